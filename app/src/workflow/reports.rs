//! The bilan d'activité of a period and a scope (docs/bilans.md): who may
//! have which, and the document in the format asked for. The scope follows
//! the indicators' rules ([`super::exports::Ask`]): a coordinator her
//! crèches, the CAF its département, an admin any.

use std::collections::BTreeSet;

use avip_db::DbConnection;
use avip_db::model::{CrecheId, OrganizationId, Role};
use avip_sla_engine::policy::HolidayZone;
use chrono::{DateTime, NaiveDate, Utc};

use crate::access::{Action, Resource, require};
use crate::auth::Principal;
use crate::domain::DomainError;
use crate::exports::Cancel;
use crate::reports::{Bilan, DrawChart, Target};
use crate::workflow::exports::{Ask, Download, creches, failed_to_write, seen};

/// The formats a bilan is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BilanFormat {
    Docx,
    Xlsx,
}

impl BilanFormat {
    pub fn extension(self) -> &'static str {
        match self {
            BilanFormat::Docx => "docx",
            BilanFormat::Xlsx => "xlsx",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            BilanFormat::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            BilanFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        }
    }
}

/// One scope a caller may choose: its value in a form, its French label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeChoice {
    /// `""` (all the caller sees), `creche:<id>`, `operator:<id>` or
    /// `departement:<code>`.
    pub value: String,
    pub label: String,
}

/// The scopes the caller may ask a bilan of: all she sees, then each
/// département (admins), operator and crèche among them.
pub fn scopes(conn: &mut DbConnection, who: &Principal) -> Result<Vec<ScopeChoice>, DomainError> {
    require(who, Action::Read, Resource::Indicators)?;
    let names = crate::exports::names(conn)?;
    let all = avip_db::exports::creches(conn)?;
    let seen = seen(&all, who, None)?;
    let seen: Vec<_> = all.iter().filter(|c| seen.contains(&c.id)).collect();
    let choice = |value: String, label: String| ScopeChoice { value, label };
    let mut out = vec![choice(
        String::new(),
        match who.role {
            Role::Caf => format!("Tout le département {}", who.departement),
            Role::Coordinator => "Toutes mes crèches".to_owned(),
            _ => "Toutes les crèches".to_owned(),
        },
    )];
    if who.role == Role::Admin {
        let departements: BTreeSet<&str> = seen.iter().map(|c| c.departement.as_str()).collect();
        out.extend(
            departements
                .into_iter()
                .map(|d| choice(format!("departement:{d}"), format!("Département {d}"))),
        );
    }
    let operators: BTreeSet<&OrganizationId> = seen.iter().map(|c| &c.operator).collect();
    out.extend(operators.into_iter().map(|o| {
        let name = names
            .organizations
            .get(o)
            .map(|o| o.1.as_str())
            .unwrap_or("");
        choice(format!("operator:{o}"), format!("Gestionnaire {name}"))
    }));
    out.extend(
        seen.iter()
            .map(|c| choice(format!("creche:{}", c.id), format!("Crèche {}", c.name))),
    );
    Ok(out)
}

impl Ask {
    /// The period and the scope a form's `value` names ([`ScopeChoice`]);
    /// the whole of what the caller sees when it names none.
    pub fn of_choice(from: NaiveDate, to: NaiveDate, value: &str) -> Ask {
        let mut ask = Ask::period_only(from, to);
        match value.split_once(':') {
            Some(("creche", id)) => ask.creche = CrecheId::parse(id),
            Some(("operator", id)) => ask.operator = OrganizationId::parse(id),
            Some(("departement", d)) => ask.departement = Some(d.to_owned()),
            _ => {}
        }
        ask
    }
}

/// The bilan of the caller's scope over the period, its figures read now.
pub fn bilan(
    conn: &mut DbConnection,
    who: &Principal,
    ask: &Ask,
    (now, zone): (DateTime<Utc>, HolidayZone),
    cancel: &Cancel,
) -> Result<Bilan, DomainError> {
    require(who, Action::Read, Resource::Indicators)?;
    let period = ask.period()?;
    let creches = creches(conn, who, ask)?;
    let names = crate::exports::names(conn)?;
    let mut creche_names: Vec<String> = (creches.iter())
        .filter_map(|c| names.creches.get(c).map(|n| n.0.clone()))
        .collect();
    creche_names.sort();
    let scope = match (&ask.creche, &ask.operator, &ask.departement) {
        (Some(_), _, _) => format!("Crèche {}", creche_names.join(", ")),
        (_, Some(o), _) => format!(
            "Gestionnaire {}",
            names
                .organizations
                .get(o)
                .map(|o| o.1.as_str())
                .unwrap_or("")
        ),
        (_, _, Some(d)) => format!("Département {d}"),
        _ if who.role == Role::Caf => format!("Département {}", who.departement),
        _ if creche_names.len() == 1 => format!("Crèche {}", creche_names[0]),
        _ => format!("{} crèches", creche_names.len()),
    };
    let target = Target { creches, period };
    let figures = crate::reports::figures(conn, &target, (now, zone), cancel)?;
    Ok(Bilan {
        scope,
        creches: creche_names,
        period,
        previous: crate::reports::previous(period),
        written_at: now,
        sections: crate::reports::sections(&figures, period),
    })
}

/// The bilan as a file, and the name it downloads under; `draw` draws its
/// charts (the front-end's). Dropping the future (the client left) stops
/// the work.
pub async fn bilan_file(
    app: &crate::App,
    who: Principal,
    ask: Ask,
    (format, draw): (BilanFormat, DrawChart),
) -> Result<Download, DomainError> {
    let cancel = Cancel::default();
    let _cancel_if_gone = cancel.guard();
    let zone = app.zone();
    let bytes = app
        .run(move |conn| {
            let bilan = bilan(conn, &who, &ask, (Utc::now(), zone), &cancel)?;
            let written = match format {
                BilanFormat::Docx => crate::reports::write_docx(&bilan, draw),
                BilanFormat::Xlsx => crate::reports::write_xlsx(&bilan),
            };
            let bytes = written.map_err(failed_to_write)?;
            Ok::<_, DomainError>((bytes, bilan.period))
        })
        .await?;
    let (bytes, period) = bytes;
    Ok(Download {
        bytes,
        content_type: format.content_type(),
        file_name: Some(format!(
            "avip-bilan-{}-{}.{}",
            period.from,
            period.to,
            format.extension()
        )),
    })
}
