//! The indicators: counts, rates, percentiles and occupancy by group,
//! over the referrals received in the period.

use avip_db::tallies::{self, Counts};

use super::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Month,
    Creche,
    PrescriberKind,
    Prescriber,
}

pub const INDICATOR_COLUMNS: &[Column] = &[
    column(
        "group",
        38.0,
        Kind::Text,
        "The month of reception (`YYYY-MM`, Paris), the crèche id, the\n\
         prescriber kind or the prescriber organisation id.",
    ),
    column(
        "label",
        30.0,
        Kind::Text,
        "The group in words, in French: `janvier 2026`, the crèche's name,\n\
         `France Travail`, the prescriber organisation's name.",
    ),
    column(
        "received",
        10.0,
        Kind::Integer,
        "Referrals received in the period.",
    ),
    column(
        "answered",
        10.0,
        Kind::Integer,
        "Of those, referrals that had a first response (contacted, offered,\n\
         waitlisted or declined first). A referral withdrawn before any\n\
         answer is not answered.",
    ),
    column(
        "answered_within_deadline",
        12.0,
        Kind::Integer,
        "Of those, first responses by the deadline (`sla.due_at`).",
    ),
    column(
        "answered_late",
        12.0,
        Kind::Integer,
        "Of those, referrals answered after their deadline, or not answered\n\
         by it (before they were closed, or by now while open).",
    ),
    column(
        "pending_first_response",
        12.0,
        Kind::Integer,
        "Of those, open referrals not answered yet whose deadline has not\n\
         come: neither in time nor late yet.",
    ),
    nullable(
        "answered_within_deadline_pct",
        12.0,
        Kind::Number,
        "`answered_within_deadline / (answered_within_deadline + answered_late)\n\
         × 100`, one decimal: over the decided ones only, the pending not\n\
         counted; `null` when none is decided.",
    ),
    nullable(
        "median_hours_to_first_response",
        12.0,
        Kind::Number,
        "Median of the hours to the first response of the answered\n\
         referrals (calendar hours; between the two middle values for an even count).",
    ),
    nullable(
        "p90_hours_to_first_response",
        12.0,
        Kind::Number,
        "90th percentile of the same, interpolated between the closest ranks\n\
         (as a spreadsheet's PERCENTILE.INC).",
    ),
    column(
        "offers",
        10.0,
        Kind::Integer,
        "Referrals that were offered a place (moved to `offered` at some point).",
    ),
    column(
        "enrollments",
        10.0,
        Kind::Integer,
        "Referrals whose child was enrolled.",
    ),
    column(
        "exits",
        10.0,
        Kind::Integer,
        "Enrolled children who have left.",
    ),
    column(
        "positive_exits",
        10.0,
        Kind::Integer,
        "Exits recorded as positive (the parent found work or training).",
    ),
    nullable(
        "positive_exit_pct",
        12.0,
        Kind::Number,
        "`positive_exits / exits × 100`; `null` without exits.",
    ),
    column(
        "lasting_solutions",
        10.0,
        Kind::Integer,
        "Exits with a lasting childcare solution (any but `none`).",
    ),
    nullable(
        "occupied_place_days",
        12.0,
        Kind::Integer,
        "Σ over the period's days up to today (Paris; days to come are not\n\
         counted) of the AVIP places occupied by enrolled\n\
         children (month and crèche groups; the month groups sum the\n\
         crèches in scope over that month). `null` for prescriber groups.",
    ),
    nullable(
        "available_place_days",
        12.0,
        Kind::Integer,
        "Σ over the same days of the AVIP places reserved.",
    ),
    nullable(
        "occupancy_pct",
        12.0,
        Kind::Number,
        "`occupied_place_days / available_place_days × 100`.",
    ),
    column(
        "exits_in_work",
        10.0,
        Kind::Integer,
        "Exits whose parent was in work at exit (fixed-term, permanent,\n\
         temping, a business created).",
    ),
    column(
        "exits_in_training",
        10.0,
        Kind::Integer,
        "Exits whose parent was in training at exit.",
    ),
    column(
        "outcomes_3_months_asked",
        10.0,
        Kind::Integer,
        "Exits whose referent was asked the parent's situation 3 months after.",
    ),
    column(
        "outcomes_3_months_answered",
        10.0,
        Kind::Integer,
        "Of those, answered (`unknown` counts as an answer).",
    ),
    column(
        "in_work_at_3_months",
        10.0,
        Kind::Integer,
        "Of the answers, parents in work 3 months after the exit.",
    ),
    column(
        "in_training_at_3_months",
        10.0,
        Kind::Integer,
        "Of the answers, parents in training 3 months after the exit.",
    ),
    nullable(
        "in_work_at_3_months_pct",
        12.0,
        Kind::Number,
        "`in_work_at_3_months / outcomes_3_months_answered × 100`.",
    ),
    nullable(
        "in_training_at_3_months_pct",
        12.0,
        Kind::Number,
        "`in_training_at_3_months / outcomes_3_months_answered × 100`.",
    ),
    column(
        "outcomes_6_months_asked",
        10.0,
        Kind::Integer,
        "Exits whose referent was asked the parent's situation 6 months after.",
    ),
    column(
        "outcomes_6_months_answered",
        10.0,
        Kind::Integer,
        "Of those, answered (`unknown` counts as an answer).",
    ),
    column(
        "in_work_at_6_months",
        10.0,
        Kind::Integer,
        "Of the answers, parents in work 6 months after the exit.",
    ),
    column(
        "in_training_at_6_months",
        10.0,
        Kind::Integer,
        "Of the answers, parents in training 6 months after the exit.",
    ),
    nullable(
        "in_work_at_6_months_pct",
        12.0,
        Kind::Number,
        "`in_work_at_6_months / outcomes_6_months_answered × 100`.",
    ),
    nullable(
        "in_training_at_6_months_pct",
        12.0,
        Kind::Number,
        "`in_training_at_6_months / outcomes_6_months_answered × 100`.",
    ),
    nullable(
        "outcome_answer_pct",
        12.0,
        Kind::Number,
        "Answers to the outcome requests, 3 and 6 months together, over the\n\
         requests sent × 100.",
    ),
    nullable(
        "transfers_in",
        10.0,
        Kind::Integer,
        "Transfers of these referrals from another crèche to the group's\n\
         crèche (crèche groups) or to a crèche in scope (month groups).\n\
         `null` for prescriber groups.",
    ),
    nullable(
        "transfers_out",
        10.0,
        Kind::Integer,
        "Transfers of these referrals from the group's crèche (or a crèche\n\
         in scope) to another crèche. The other counts follow a transferred\n\
         referral to the crèche that holds it now. `null` for prescriber groups.",
    ),
    column(
        "first_meetings_held",
        10.0,
        Kind::Integer,
        "Of these referrals, first meetings the family booked through its\n\
         link and the coordinator recorded as held.",
    ),
    column(
        "first_meetings_no_show",
        10.0,
        Kind::Integer,
        "Of these referrals, first meetings recorded as not honoured\n\
         (« rendez-vous non honoré »).",
    ),
    nullable(
        "median_days_to_first_meeting",
        12.0,
        Kind::Number,
        "Median days from the referral's reception to its first meeting\n\
         held.",
    ),
];

/// One group of indicators. Every count is over the referrals **received
/// in the period** (a cohort), whatever happened to them since, up to now.
///
/// Its schema is made from [`INDICATOR_COLUMNS`], the columns the files are written
/// with.
pub struct IndicatorRow;

impl utoipa::PartialSchema for IndicatorRow {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        schema(
            INDICATOR_COLUMNS,
            "One group of indicators. Every count is over the referrals **received\n\
     in the period** (a cohort), whatever happened to them since, up to now.",
            serde_json::json!({"group": "2026-11", "label": "novembre 2026", "received": 12, "answered": 10,
    "answered_within_deadline": 9, "answered_late": 1, "pending_first_response": 2,
    "answered_within_deadline_pct": 90.0,
    "median_hours_to_first_response": 20.5, "p90_hours_to_first_response": 70.2, "offers": 6,
    "enrollments": 4, "exits": 2, "positive_exits": 1, "positive_exit_pct": 50.0, "lasting_solutions": 2,
    "occupied_place_days": 310, "available_place_days": 540, "occupancy_pct": 57.4,
    "exits_in_work": 1, "exits_in_training": 0,
    "outcomes_3_months_asked": 2, "outcomes_3_months_answered": 2, "in_work_at_3_months": 1,
    "in_training_at_3_months": 1, "in_work_at_3_months_pct": 50.0, "in_training_at_3_months_pct": 50.0,
    "outcomes_6_months_asked": 1, "outcomes_6_months_answered": 0, "in_work_at_6_months": 0,
    "in_training_at_6_months": 0, "in_work_at_6_months_pct": null, "in_training_at_6_months_pct": null,
    "outcome_answer_pct": 66.7, "transfers_in": 1, "transfers_out": 0,
    "first_meetings_held": 3, "first_meetings_no_show": 1, "median_days_to_first_meeting": 4.0}),
        )
    }
}

impl utoipa::ToSchema for IndicatorRow {}

/// The counts of one group.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub label: String,
    /// What the group's referrals settled, the waits decided by the clock
    /// added (`late`).
    pub counts: Counts,
    /// Open referrals not answered yet whose deadline has not come.
    pub pending: i64,
    pub hours: Vec<f64>,
    /// Occupied and available place-days (crèche and month groups).
    pub place_days: Option<(i64, i64)>,
    /// Transfers in and out (crèche and month groups).
    pub transfers: Option<(i64, i64)>,
    /// First meetings held and not honoured, and the days from the
    /// reception to each held one.
    pub meetings: (i64, i64),
    pub meeting_days: Vec<f64>,
}

impl Tally {
    /// Counts one referral, as it stands at `now`.
    pub fn add(&mut self, r: &TallyRow, now: NaiveDateTime) {
        let settled = tallies::Tally::of(r);
        self.add_settled(&settled.counts, settled.seconds);
        if tallies::is_waiting(r) {
            self.wait(r.sla_due_at, now);
        }
    }

    /// Adds what referrals settled, with their seconds to a first response.
    pub fn add_settled(&mut self, counts: &Counts, seconds: impl IntoIterator<Item = i64>) {
        self.counts.add(counts, 1);
        self.hours
            .extend(seconds.into_iter().map(|s| s as f64 / 3600.0));
    }

    /// An open referral waiting for its first response: late once its
    /// deadline has come, pending until then.
    pub fn wait(&mut self, due: Option<NaiveDateTime>, now: NaiveDateTime) {
        match due {
            Some(due) if due <= now => self.counts.late += 1,
            Some(_) => self.pending += 1,
            None => {}
        }
    }

    pub fn cells(&self, group: &str) -> Vec<Cell> {
        let c = &self.counts;
        let int = |n: i32| Cell::Int(i64::from(n));
        let pct = |n: i32, d: i32| {
            if d > 0 {
                Cell::Pct(100.0 * f64::from(n) / f64::from(d))
            } else {
                Cell::Empty
            }
        };
        let mut hours = self.hours.clone();
        hours.sort_by(f64::total_cmp);
        let mut days = self.meeting_days.clone();
        days.sort_by(f64::total_cmp);
        let (occupied, available) = match self.place_days {
            Some((o, a)) => (Cell::Int(o), Cell::Int(a)),
            None => (Cell::Empty, Cell::Empty),
        };
        vec![
            Cell::text(group),
            Cell::Text(self.label.clone()),
            int(c.received),
            int(c.answered),
            int(c.within_deadline),
            int(c.late),
            Cell::Int(self.pending),
            pct(c.within_deadline, c.within_deadline + c.late),
            Cell::opt(percentile(&hours, 0.5), |h| Cell::Num(h, 1)),
            Cell::opt(percentile(&hours, 0.9), |h| Cell::Num(h, 1)),
            int(c.offers),
            int(c.enrollments),
            int(c.exits),
            int(c.positive_exits),
            pct(c.positive_exits, c.exits),
            int(c.lasting_solutions),
            occupied,
            available,
            match self.place_days {
                Some((o, a)) if a > 0 => Cell::Pct(100.0 * o as f64 / a as f64),
                _ => Cell::Empty,
            },
            int(c.exits_in_work),
            int(c.exits_in_training),
        ]
        .into_iter()
        .chain([c.after(0), c.after(1)].into_iter().flat_map(|a| {
            [
                int(a.asked),
                int(a.answered),
                int(a.in_work),
                int(a.in_training),
                pct(a.in_work, a.answered),
                pct(a.in_training, a.answered),
            ]
        }))
        .chain([pct(c.answered_3 + c.answered_6, c.asked_3 + c.asked_6)])
        .chain(match self.transfers {
            Some((i, o)) => [Cell::Int(i), Cell::Int(o)],
            None => [Cell::Empty, Cell::Empty],
        })
        .chain([
            Cell::Int(self.meetings.0),
            Cell::Int(self.meetings.1),
            Cell::opt(percentile(&days, 0.5), |d| Cell::Num(d, 1)),
        ])
        .collect()
    }
}

/// The p-th percentile of sorted values, interpolated between the closest
/// ranks as a spreadsheet's PERCENTILE.INC and MEDIAN do.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = p * last as f64;
    let (low, high) = (rank.floor() as usize, rank.ceil() as usize);
    Some(sorted[low] + (sorted[high] - sorted[low]) * (rank - low as f64))
}

/// The months `period` touches, each cut to the period.
fn months(period: Period) -> Vec<(String, Period)> {
    let mut out = Vec::new();
    let mut start = period.from;
    while start <= period.to {
        let next = start
            .with_day(1)
            .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
            .unwrap_or(NaiveDate::MAX);
        let end = next.pred_opt().unwrap_or(next).min(period.to);
        out.push((
            start.format("%Y-%m").to_string(),
            Period {
                from: start,
                to: end,
            },
        ));
        if next == NaiveDate::MAX {
            break;
        }
        start = next;
    }
    out
}

/// The indicators of the scope's referrals received in `period`, by group:
/// from the days' sums ([`avip_db::tallies`]) once they hold every
/// referral, from the referrals themselves until then.
pub fn indicators(
    conn: &mut DbConnection,
    scope: &ExportScope,
    creches: &[CrecheId],
    period: Period,
    group_by: GroupBy,
    (now, zone): (NaiveDateTime, avip_sla_engine::policy::HolidayZone),
    cancel: &Cancel,
) -> Result<BTreeMap<String, Tally>, ExportError> {
    let today = paris_date(from_db_time(now));
    let names = names(conn)?;
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    occupancy(
        conn,
        creches,
        period,
        (group_by, today, zone),
        &names,
        &mut groups,
    )?;
    if tallies::is_built(conn)? {
        for m in tallies::months(conn, (period.from, period.to), creches)? {
            group(
                &mut groups,
                (m.month, &m.creche_id, &m.prescriber_organization_id),
                group_by,
                &names,
            )
            .add_settled(&m.counts, m.seconds);
        }
        for w in tallies::waits(conn, scope, now)? {
            let tally = group(
                &mut groups,
                (w.month, &w.creche_id, &w.prescriber_organization_id),
                group_by,
                &names,
            );
            tally.counts.late += i32::try_from(w.late).unwrap_or(i32::MAX);
            tally.pending += w.pending;
        }
    } else {
        in_chunks(
            |after| exports::tally_chunk(conn, scope, after, CHUNK),
            |r| (r.received_at, r.id.clone()),
            |r| {
                if cancel.is_cancelled() {
                    return Err(ExportError::Gone);
                }
                let day = tallies::paris_day(r.received_at);
                group(
                    &mut groups,
                    (day, &r.creche_id, &r.prescriber_organization_id),
                    group_by,
                    &names,
                )
                .add(r, now);
                Ok(())
            },
        )?;
    }
    transfers(conn, creches, period, group_by, &mut groups)?;
    first_meetings(conn, creches, period, group_by, (&names, &mut groups))?;
    Ok(groups)
}

/// Each group's first meetings recorded, of the referrals received in the
/// period (its first meeting only: one per referral).
fn first_meetings(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
    group_by: GroupBy,
    (names, groups): (&Names, &mut BTreeMap<String, Tally>),
) -> Result<(), ExportError> {
    // Paris days, read from UTC instants a day wider on each side.
    let bound = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN);
    let rows = avip_db::meetings::recorded_of_received(
        conn,
        creches,
        (
            bound(period.from - chrono::Days::new(1)),
            bound(period.to + chrono::Days::new(2)),
        ),
    )?;
    for row in rows {
        let day = tallies::paris_day(row.received_at);
        if day < period.from || day > period.to {
            continue;
        }
        let tally = group(
            groups,
            (day, &row.creche_id, &row.prescriber_organization_id),
            group_by,
            names,
        );
        match row.outcome {
            avip_db::model::MeetingOutcome::Held => {
                tally.meetings.0 += 1;
                let days = (row.starts_at - row.received_at).num_minutes() as f64 / 1440.0;
                tally.meeting_days.push(days.max(0.0));
            }
            avip_db::model::MeetingOutcome::NoShow => tally.meetings.1 += 1,
        }
    }
    Ok(())
}

/// Each crèche or month group's transfers in and out, of the referrals
/// received in the period; prescriber groups have none.
fn transfers(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
    group_by: GroupBy,
    groups: &mut BTreeMap<String, Tally>,
) -> Result<(), ExportError> {
    if matches!(group_by, GroupBy::Prescriber | GroupBy::PrescriberKind) {
        return Ok(());
    }
    for tally in groups.values_mut() {
        tally.transfers = Some((0, 0));
    }
    // Paris days, read from UTC instants a day wider on each side.
    let bound = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN);
    let rows = exports::transfers_of_received(
        conn,
        bound(period.from - chrono::Days::new(1)),
        bound(period.to + chrono::Days::new(2)),
    )?;
    for row in rows {
        let day = tallies::paris_day(row.received_at);
        let data: serde_json::Value = (row.data.as_deref())
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let creche = |key: &str| {
            data.get(key)
                .and_then(|v| v.as_str())
                .and_then(CrecheId::parse)
                .filter(|c| creches.contains(c))
        };
        if day < period.from || day > period.to {
            continue;
        }
        let month = format!("{:04}-{:02}", day.year(), day.month());
        let key = |c: &CrecheId| match group_by {
            GroupBy::Creche => c.to_string(),
            _ => month.clone(),
        };
        if let Some(t) = creche("to_creche_id").and_then(|c| groups.get_mut(&key(&c))) {
            t.transfers = Some(t.transfers.map_or((1, 0), |(i, o)| (i + 1, o)));
        }
        if let Some(t) = creche("from_creche_id").and_then(|c| groups.get_mut(&key(&c))) {
            t.transfers = Some(t.transfers.map_or((0, 1), |(i, o)| (i, o + 1)));
        }
    }
    Ok(())
}

/// The tally of the group a referral received on `day` falls in, labelled
/// when the label is known from the referral alone.
fn group<'a>(
    groups: &'a mut BTreeMap<String, Tally>,
    (day, creche, org): (NaiveDate, &CrecheId, &OrganizationId),
    group_by: GroupBy,
    names: &Names,
) -> &'a mut Tally {
    // The key only, each row; the label once per group.
    let key = match group_by {
        GroupBy::Month => format!("{:04}-{:02}", day.year(), day.month()),
        GroupBy::Creche => creche.to_string(),
        GroupBy::PrescriberKind => names
            .organizations
            .get(org)
            .map(|o| o.0.as_str())
            .unwrap_or_default()
            .to_owned(),
        GroupBy::Prescriber => org.to_string(),
    };
    let tally = groups.entry(key).or_default();
    if tally.label.is_empty() {
        tally.label = match group_by {
            GroupBy::Month => crate::labels::month(day.year(), day.month()),
            GroupBy::Creche => String::new(),
            GroupBy::PrescriberKind => names
                .organizations
                .get(org)
                .map(|o| organization_kind(o.0))
                .unwrap_or_default()
                .to_owned(),
            GroupBy::Prescriber => names
                .organizations
                .get(org)
                .map(|o| o.1.clone())
                .unwrap_or_default(),
        };
    }
    tally
}

/// Each group's place-days occupied and open (a closed day has none), every
/// month and crèche of the period shown even without referrals.
fn occupancy(
    conn: &mut DbConnection,
    creches: &[CrecheId],
    period: Period,
    (group_by, today, zone): (GroupBy, NaiveDate, avip_sla_engine::policy::HolidayZone),
    names: &Names,
    groups: &mut BTreeMap<String, Tally>,
) -> Result<(), ExportError> {
    // Occupancy counts the days that have happened: up to today (Paris).
    let lived = |conn: &mut DbConnection| -> Result<Vec<Vec<places::Day>>, ExportError> {
        if period.from > today {
            return Ok(vec![Vec::new(); creches.len()]);
        }
        let past = Period {
            from: period.from,
            to: period.to.min(today),
        };
        Ok(crate::workflow::places::days(
            conn,
            creches,
            past,
            &[],
            zone,
        )?)
    };
    match group_by {
        GroupBy::Month => {
            // One read of the whole period, each day added to its month
            // once: the work grows with the period, not with its square.
            let months = months(period);
            let mut sums = vec![(0i64, 0i64); months.len()];
            let first = period.from.year() * 12 + period.from.month0() as i32;
            for day in lived(conn)?.iter().flatten() {
                let index = (day.date.year() * 12 + day.date.month0() as i32 - first) as usize;
                if let Some(sum) = sums.get_mut(index) {
                    let (occupied, available) = places::place_days([day]);
                    *sum = (sum.0 + occupied, sum.1 + available);
                }
            }
            for ((month, _), sum) in months.into_iter().zip(sums) {
                let tally = groups.entry(month.clone()).or_default();
                tally.label = month_group(&month);
                tally.place_days = Some(sum);
            }
        }
        GroupBy::Creche => {
            let days = lived(conn)?;
            for (creche, days) in creches.iter().zip(&days) {
                let tally = groups.entry(creche.to_string()).or_default();
                tally.label = names
                    .creches
                    .get(creche)
                    .map(|c| c.0.clone())
                    .unwrap_or_default();
                tally.place_days = Some(places::place_days(days));
            }
        }
        GroupBy::PrescriberKind | GroupBy::Prescriber => {}
    }
    Ok(())
}

/// Writes indicator groups as a table.
pub fn write_indicators<O: Out>(
    groups: &BTreeMap<String, Tally>,
    format: Format,
    out: &mut O,
) -> Result<(), ExportError> {
    let mut writer = Writer::start(format, INDICATOR_COLUMNS, out)?;
    for (group, tally) in groups {
        writer.row(&tally.cells(group))?;
    }
    writer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_like_a_spreadsheet() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), Some(2.5));
        assert!((percentile(&v, 0.9).unwrap() - 3.7).abs() < 1e-9);
        assert_eq!(percentile(&[5.0], 0.9), Some(5.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn age_brackets_count_whole_months() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(age_bracket(d("2025-11-23"), d("2026-11-22")), "under_1");
        assert_eq!(age_bracket(d("2025-11-22"), d("2026-11-22")), "1_to_2");
        assert_eq!(age_bracket(d("2024-02-29"), d("2026-02-28")), "1_to_2");
        assert_eq!(age_bracket(d("2023-11-22"), d("2026-11-22")), "3_and_over");
    }

    #[test]
    fn a_dropped_request_cancels_its_work() {
        let cancel = Cancel::default();
        let guard = cancel.guard();
        assert!(!cancel.is_cancelled());
        drop(guard);
        assert!(cancel.is_cancelled());
    }

    #[test]
    fn months_cut_the_period() {
        let p = Period {
            from: "2026-01-15".parse().unwrap(),
            to: "2026-03-02".parse().unwrap(),
        };
        let m: Vec<(String, u32)> = months(p)
            .into_iter()
            .map(|(k, p)| (k, p.days() as u32))
            .collect();
        assert_eq!(
            m,
            [
                ("2026-01".into(), 17),
                ("2026-02".into(), 28),
                ("2026-03".into(), 2)
            ]
        );
    }

    #[test]
    fn family_ids_depend_on_the_key() {
        let a = PseudonymKey::new("key one".as_bytes());
        let b = PseudonymKey::new("key two".as_bytes());
        assert_eq!(a.id("ft:1234567a"), a.id("ft:1234567a"));
        assert_ne!(a.id("ft:1234567a"), b.id("ft:1234567a"));
        assert_eq!(a.id("x").len(), 32);
    }
}
