//! The bilan's sections, in French: for each, a few sentences written from
//! the figures, the tables and the charts; then the sections the
//! coordinator writes herself.

use avip_db::model::{EmploymentStatus, ExitReason, OutcomeAt, OutcomeSituation, ParentSituation};
use avip_db::places::Period;

use super::{ChartOf, Figures, MASKED, Section, Table, Value, decimal, integer, rate};
use crate::exports::{Tally, percentile};
use crate::labels;

/// Every section of a bilan of `period` compared with `previous`.
pub fn sections(f: &Figures, period: Period) -> Vec<Section> {
    let before = super::previous_name(period);
    vec![
        summary(f, before),
        received(f, before),
        answers(f, before),
        path(f),
        exits(f, before),
        situations(f),
        places(f, before),
        profile(f),
        to_fill(
            "Actions menées",
            "Actions",
            "Décrivez ici les actions menées sur la période : accompagnement des parents, \
             ateliers, rencontres avec les partenaires…",
        ),
        to_fill(
            "Partenariats",
            "Partenariats",
            "Décrivez ici le travail avec France Travail, le Conseil départemental, les \
             missions locales et les autres partenaires.",
        ),
        to_fill(
            "Perspectives",
            "Perspectives",
            "Décrivez ici les perspectives pour la période à venir.",
        ),
        method(),
    ]
}

fn section(title: &'static str, sheet: &'static str) -> Section {
    Section {
        title,
        sheet,
        text: Vec::new(),
        tables: Vec::new(),
        charts: Vec::new(),
        to_fill: false,
    }
}

fn to_fill(title: &'static str, sheet: &'static str, prompt: &str) -> Section {
    Section {
        text: vec![prompt.to_owned()],
        to_fill: true,
        ..section(title, sheet)
    }
}

fn table(caption: &str, head: &[&str], rows: Vec<Vec<Value>>) -> Table {
    Table {
        caption: caption.to_owned(),
        head: head.iter().map(|h| (*h).to_owned()).collect(),
        rows,
    }
}

fn text(t: &str) -> Value {
    Value::Text(t.to_owned())
}

fn count(n: i32) -> Value {
    Value::count(i64::from(n))
}

/// A count in a sentence: `12 orientations`, `moins de 5 orientations`.
fn some(n: i64, what: &str) -> String {
    match Value::count(n) {
        Value::Masked => format!("{MASKED} {what}"),
        _ => format!("{} {what}", integer(n)),
    }
}

/// The share of answers within 72 hours, over the decided ones.
fn in_time(t: &Tally) -> Option<f64> {
    let c = &t.counts;
    rate(
        i64::from(c.within_deadline),
        i64::from(c.within_deadline + c.late),
    )
}

fn occupancy(t: &Tally) -> Option<f64> {
    t.place_days
        .and_then(|(o, a)| (a > 0).then(|| 100.0 * o as f64 / a as f64))
}

/// ` (contre 79 % le trimestre précédent)`, or nothing to compare with.
fn against(value: Option<f64>, before: Option<f64>, name: &str) -> String {
    match (value, before) {
        (Some(_), Some(b)) => format!(", contre {}\u{a0}% {name}", decimal(b)),
        _ => String::new(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".to_owned(), |v| format!("{}\u{a0}%", decimal(v)))
}

/// One row of the key figures: now, before, the change.
fn key(label: &str, now: Value, before: Value) -> Vec<Value> {
    let signed = |v: f64| {
        let sign = if v > 0.0 { "+" } else { "" };
        format!("{sign}{}", decimal(v))
    };
    let change = match (&now, &before) {
        (Value::Count(a), Value::Count(b)) if *b > 0 => {
            format!("{}\u{a0}%", signed(100.0 * (a - b) as f64 / *b as f64))
        }
        (Value::Pct(Some(a)), Value::Pct(Some(b))) => format!("{}\u{a0}points", signed(a - b)),
        _ => "—".to_owned(),
    };
    let change = Value::Text(change);
    vec![text(label), now, before, change]
}

fn summary(f: &Figures, before: &str) -> Section {
    let (t, b) = (&f.total, &f.before);
    let (c, p) = (&t.counts, &b.counts);
    let rows = vec![
        key("Orientations reçues", count(c.received), count(p.received)),
        key(
            "Réponses sous 72 heures (part)",
            Value::Pct(in_time(t)),
            Value::Pct(in_time(b)),
        ),
        key("Places proposées", count(c.offers), count(p.offers)),
        key("Inscriptions", count(c.enrollments), count(p.enrollments)),
        key("Sorties", count(c.exits), count(p.exits)),
        key(
            "Sorties positives",
            count(c.positive_exits),
            count(p.positive_exits),
        ),
        key(
            "Taux d’occupation des places AVIP",
            Value::Pct(occupancy(t)),
            Value::Pct(occupancy(b)),
        ),
    ];
    let mut s = section("Synthèse", "Synthèse");
    s.text.push(format!(
        "Sur la période, {} ont été reçues{}.",
        some(i64::from(c.received), "orientations"),
        match Value::count(i64::from(p.received)) {
            Value::Masked => format!(", contre {MASKED} {before}"),
            _ => format!(", contre {} {before}", integer(i64::from(p.received))),
        }
    ));
    s.tables.push(table(
        "Chiffres clés, comparés à la période précédente de même durée",
        &["Indicateur", "Période", "Période précédente", "Évolution"],
        rows,
    ));
    s
}

fn received(f: &Figures, before: &str) -> Section {
    let mut s = section("Orientations reçues", "Orientations");
    let c = &f.total.counts;
    let kinds: Vec<Vec<Value>> = f
        .kinds
        .iter()
        .map(|(label, t)| vec![text(label), count(t.counts.received)])
        .collect();
    let months: Vec<Vec<Value>> = f
        .months
        .values()
        .map(|t| {
            vec![
                text(&t.label),
                count(t.counts.received),
                count(t.counts.within_deadline),
            ]
        })
        .collect();
    s.text.push(format!(
        "Sur la période, {} ont été reçues ({} {before}){}.",
        some(i64::from(c.received), "orientations"),
        some(i64::from(f.before.counts.received), "orientations"),
        match f.kinds.len() {
            0 => String::new(),
            1 => ", d’un seul type de prescripteur".to_owned(),
            n => format!(", de {n} types de prescripteurs"),
        }
    ));
    s.tables.push(table(
        "Par type de prescripteur",
        &["Prescripteur", "Orientations reçues"],
        kinds,
    ));
    s.tables.push(table(
        "Par mois de réception",
        &["Mois", "Orientations reçues", "Répondues sous 72 heures"],
        months,
    ));
    s.charts.push(ChartOf {
        id: "recues",
        title: "Orientations reçues et répondues sous 72 heures, par mois".to_owned(),
        description: "Barres : pour chaque mois, les orientations reçues et celles qui ont eu \
                      une réponse dans les 72 heures."
            .to_owned(),
        table: 1,
        columns: vec![1, 2],
        lines: false,
        unit: "",
    });
    s
}

fn answers(f: &Figures, before: &str) -> Section {
    let mut s = section("Réponses aux familles sous 72 heures", "Réponses 72 h");
    let (t, c) = (&f.total, &f.total.counts);
    let mut hours = t.hours.clone();
    hours.sort_by(f64::total_cmp);
    let enough = hours.len() as i64 >= super::SECRECY;
    let at = |p| if enough { percentile(&hours, p) } else { None };
    let share = in_time(t);
    s.text.push(match share {
        Some(v) => format!(
            "Sur la période, {}\u{a0}% des familles ont reçu une réponse en moins de 72 heures{}.",
            decimal(v),
            against(share, in_time(&f.before), before)
        ),
        None => "Trop peu de réponses sur la période (moins de 5) pour en donner la part dans \
                 les 72 heures."
            .to_owned(),
    });
    if let (Some(median), Some(p90)) = (at(0.5), at(0.9)) {
        s.text.push(format!(
            "La moitié des familles ont eu une réponse en moins de {} heures, et 90\u{a0}% en \
             moins de {} heures.",
            decimal(median),
            decimal(p90)
        ));
    }
    s.tables.push(table(
        "Premières réponses",
        &["", "Période"],
        vec![
            vec![
                text("Répondues dans les 72 heures"),
                count(c.within_deadline),
            ],
            vec![
                text("Répondues en retard ou sans réponse à temps"),
                count(c.late),
            ],
            vec![text("En attente, délai non échu"), Value::count(t.pending)],
            vec![text("Part répondue dans les 72 heures"), Value::Pct(share)],
            vec![
                text("Délai médian de réponse (heures)"),
                Value::Num(at(0.5)),
            ],
            vec![
                text("Délai de réponse, 90e centile (heures)"),
                Value::Num(at(0.9)),
            ],
        ],
    ));
    s
}

fn path(f: &Figures) -> Section {
    let mut s = section("Propositions, inscriptions et transferts", "Parcours");
    let (t, c) = (&f.total, &f.total.counts);
    let (transfers_in, transfers_out) = t.transfers.unwrap_or_default();
    s.text.push(format!(
        "Une place a été proposée à {} ; {} ont été inscrits.",
        some(i64::from(c.offers), "familles"),
        some(i64::from(c.enrollments), "enfants")
    ));
    s.tables.push(table(
        "Du premier contact à l’accueil",
        &["", "Période"],
        vec![
            vec![
                text("Premiers rendez-vous honorés"),
                Value::count(t.meetings.0),
            ],
            vec![text("Rendez-vous non honorés"), Value::count(t.meetings.1)],
            vec![text("Places proposées"), count(c.offers)],
            vec![text("Inscriptions"), count(c.enrollments)],
            vec![
                text("Transferts reçus d’une autre crèche"),
                Value::count(transfers_in),
            ],
            vec![
                text("Transferts vers une autre crèche"),
                Value::count(transfers_out),
            ],
        ],
    ));
    s
}

fn exits(f: &Figures, before: &str) -> Section {
    let mut s = section("Sorties du dispositif", "Sorties");
    let c = &f.total.counts;
    let share = rate(i64::from(c.positive_exits), i64::from(c.exits));
    let before_share = rate(
        i64::from(f.before.counts.positive_exits),
        i64::from(f.before.counts.exits),
    );
    s.text.push(format!(
        "{} sont sortis du dispositif, dont {} (emploi ou formation du parent){}{}.",
        some(i64::from(c.exits), "enfants"),
        some(i64::from(c.positive_exits), "sorties positives"),
        share.map_or(String::new(), |v| format!(" : {}\u{a0}%", decimal(v))),
        against(share, before_share, before),
    ));
    let rows = ExitReason::ALL
        .iter()
        .map(|reason| {
            let of = |positive: bool| -> i64 {
                f.exits
                    .iter()
                    .filter(|e| {
                        e.reason == Some(*reason) && (!positive || e.positive == Some(true))
                    })
                    .map(|e| e.count)
                    .sum()
            };
            vec![
                text(labels::exit_reason(*reason)),
                Value::count(of(false)),
                Value::count(of(true)),
            ]
        })
        .collect();
    s.tables.push(table(
        "Par motif de sortie",
        &["Motif", "Sorties", "Dont positives"],
        rows,
    ));
    s.tables.push(table(
        "Ensemble",
        &["", "Période"],
        vec![
            vec![text("Sorties"), count(c.exits)],
            vec![text("Sorties positives"), count(c.positive_exits)],
            vec![text("Part de sorties positives"), Value::Pct(share)],
            vec![
                text("Solutions d’accueil durables"),
                count(c.lasting_solutions),
            ],
        ],
    ));
    s.charts.push(ChartOf {
        id: "sorties",
        title: "Sorties et sorties positives, par motif".to_owned(),
        description: "Barres : pour chaque motif de sortie, le nombre de sorties et, parmi \
                      elles, les sorties positives (sans les nombres de 1 à 4)."
            .to_owned(),
        table: 0,
        columns: vec![1, 2],
        lines: false,
        unit: "",
    });
    s
}

fn situations(f: &Figures) -> Section {
    let mut s = section(
        "Situation des parents après la sortie",
        "Situation des parents",
    );
    let c = &f.total.counts;
    let at_exit = EmploymentStatus::ALL
        .iter()
        .map(|e| {
            let n = f
                .exits
                .iter()
                .filter(|x| x.employment == Some(*e))
                .map(|x| x.count)
                .sum();
            vec![text(labels::employment(*e)), Value::count(n)]
        })
        .collect();
    s.text.push(format!(
        "À la sortie, {} en emploi et {} en formation. Les situations à 3 et 6 mois sont \
         celles que les référents ont indiquées quand on les leur a demandées.",
        some(i64::from(c.exits_in_work), "parents étaient"),
        some(i64::from(c.exits_in_training), "parents")
    ));
    s.tables
        .push(table("À la sortie", &["Situation", "Parents"], at_exit));
    for (at, asked, answered) in [
        (OutcomeAt::ThreeMonths, c.asked_3, c.answered_3),
        (OutcomeAt::SixMonths, c.asked_6, c.answered_6),
    ] {
        let mut rows: Vec<Vec<Value>> = OutcomeSituation::ALL
            .iter()
            .map(|o| {
                let n = (f.outcomes.iter())
                    .filter(|x| x.at == at && x.situation == *o)
                    .map(|x| x.count)
                    .sum();
                vec![text(labels::outcome(*o)), Value::count(n)]
            })
            .collect();
        rows.push(vec![text("Référents interrogés"), count(asked)]);
        rows.push(vec![text("Réponses reçues"), count(answered)]);
        let caption = format!("{} après la sortie", capitalised(labels::after_exit(at)));
        s.tables
            .push(table(&caption, &["Situation", "Parents"], rows));
    }
    s
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The places reserved, and how much they were occupied.
fn occupied(f: &Figures, before: &str) -> String {
    let share = occupancy(&f.total);
    format!(
        "À la fin de la période, {} places AVIP étaient réservées. {}",
        integer(f.places),
        match share {
            Some(_) => format!(
                "Elles ont été occupées à {} des journées d’ouverture{}.",
                pct(share),
                against(share, occupancy(&f.before), before)
            ),
            None => "Aucune journée d’ouverture avec des places AVIP n’est encore passée sur la \
                     période."
                .to_owned(),
        }
    )
}

fn places(f: &Figures, before: &str) -> Section {
    let mut s = section("Places AVIP et occupation", "Places et occupation");
    s.text.push(occupied(f, before));
    let day_rows = |(o, a): (i64, i64)| {
        vec![
            Value::Count(o),
            Value::Count(a),
            Value::Pct((a > 0).then(|| 100.0 * o as f64 / a as f64)),
        ]
    };
    let months = f
        .months
        .values()
        .map(|t| {
            let mut row = vec![text(&t.label)];
            row.extend(day_rows(t.place_days.unwrap_or_default()));
            row
        })
        .collect();
    // Monday to Friday, and a weekend day only where a crèche opens then.
    let weekdays = (crate::domain::Weekday::ALL.iter().enumerate())
        .filter(|(i, _)| *i < 5 || f.weekdays[*i].1 > 0)
        .map(|(i, d)| {
            let mut row = vec![text(&capitalised(labels::weekday(*d)))];
            row.extend(day_rows(f.weekdays[i]));
            row
        })
        .collect();
    let head = [
        "",
        "Jours-places occupés",
        "Jours-places ouverts",
        "Taux d’occupation",
    ];
    let mut by_month = head;
    by_month[0] = "Mois";
    let mut by_day = head;
    by_day[0] = "Jour";
    s.tables.push(table("Par mois", &by_month, months));
    s.tables
        .push(table("Par jour de la semaine", &by_day, weekdays));
    for (id, title, table, lines) in [
        (
            "occupation",
            "Taux d’occupation des places AVIP, par mois",
            0,
            true,
        ),
        (
            "semaine",
            "Taux d’occupation des places AVIP, par jour de la semaine",
            1,
            false,
        ),
    ] {
        s.charts.push(ChartOf {
            id,
            title: title.to_owned(),
            description: "La part des journées-places AVIP occupées par des enfants inscrits."
                .to_owned(),
            table,
            columns: vec![3],
            lines,
            unit: " %",
        });
    }
    s
}

fn profile(f: &Figures) -> Section {
    let mut s = section("Profil des familles orientées", "Profil des familles");
    let total: i64 = f.profiles.iter().map(|p| p.count).sum();
    let of = |keep: &dyn Fn(&avip_db::reports::ProfileCount) -> bool| -> i64 {
        f.profiles.iter().filter(|p| keep(p)).map(|p| p.count).sum()
    };
    let single = of(&|p| p.single_parent);
    let qpv = of(&|p| p.qpv_resident);
    s.text.push(match (rate(single, total), rate(qpv, total)) {
        (Some(a), Some(b)) => format!(
            "{}\u{a0}% des familles orientées sont monoparentales et {}\u{a0}% habitent un \
             quartier prioritaire de la ville (QPV).",
            decimal(a),
            decimal(b)
        ),
        _ => "Trop peu de familles sur la période (moins de 5) pour en décrire le profil en \
              parts."
            .to_owned(),
    });
    let mut rows = vec![
        vec![
            text("Familles orientées"),
            Value::count(total),
            Value::Pct(rate(total, total)),
        ],
        vec![
            text("Familles monoparentales"),
            Value::count(single),
            Value::pct(single, total),
        ],
        vec![
            text("Habitant un QPV"),
            Value::count(qpv),
            Value::pct(qpv, total),
        ],
    ];
    for situation in ParentSituation::ALL {
        let n = of(&|p| p.parent_situation == *situation);
        rows.push(vec![
            text(&format!("Situation : {}", labels::situation(*situation))),
            Value::count(n),
            Value::pct(n, total),
        ]);
    }
    s.tables.push(table(
        "Profil, en nombre de familles (aucune donnée personnelle)",
        &["", "Familles", "Part"],
        rows,
    ));
    s
}

fn method() -> Section {
    let mut s = section("Méthode", "Méthode");
    s.text = vec![
        "Les chiffres portent sur les orientations reçues pendant la période, quelle que soit \
         la suite de leur parcours jusqu’à la date du bilan ; ce sont ceux des indicateurs du \
         service pour la même période et le même périmètre."
            .to_owned(),
        "Secret statistique : un nombre de familles compris entre 1 et 4 est écrit « moins de \
         5 » ; une part calculée sur moins de 5 familles, ou qui révélerait un tel nombre, et \
         un délai calculé sur moins de 5 réponses ne sont pas donnés (« — »). Le document ne \
         contient aucune donnée personnelle."
            .to_owned(),
        "L’occupation compte les journées d’ouverture écoulées : les places AVIP réservées et \
         celles occupées par des enfants inscrits, jour par jour."
            .to_owned(),
    ];
    s
}
