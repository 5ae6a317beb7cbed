//! `avip demo`: a living territory in the Var for a newcomer to explore:
//! prescribers, the CAF, two crèche operators with four crèches and their
//! coordinators, and a few dozen referrals in every status, some answered
//! late and some still waiting. It goes through the same functions as the API.

use anyhow::Context;
use avip_db::DbConnection;
use avip_db::model::{OrganizationKind, ReferralId, Role};
use chrono::{DateTime, Duration, Utc};

use avip_app::auth::{Principal, Subject};
use avip_app::domain::referral::{
    ChildIn, ConsentIn, EnrollmentRequest, ExitRequest, FollowUpRequest, HoursIn, NeedsIn,
    ParentIn, ProjectIn, ReferentIn, ReferralDraft, ReferralRequest, TransitionRequest,
};
use avip_app::domain::{DomainError, OpeningHours, Weekday};
use avip_app::settings::Settings;
use avip_app::workflow::Caller::Operator;
use avip_app::workflow::creches::{self, CreateCreche};
use avip_app::workflow::organizations::{self, CreateOrganization};
use avip_app::workflow::referrals;
use avip_app::workflow::users::{self, CreateUser};

/// The password of every demo account (a demo database is not a real one).
pub const DEMO_PASSWORD: &str = "avip demo 2026";

struct Person {
    email: &'static str,
    principal: Principal,
}

fn explain<T>(what: &str, result: Result<T, DomainError>) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!("{what}: {}", e.explain()))
}

fn organization(
    conn: &mut DbConnection,
    kind: OrganizationKind,
    name: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<avip_db::model::OrganizationId> {
    let command = CreateOrganization {
        kind,
        name: name.into(),
        departement: "83".into(),
        oidc_required: false,
        siret: None,
    };
    Ok(explain(
        name,
        organizations::create(
            conn,
            Operator,
            command,
            organizations::OidcConfigured(false),
            now,
        ),
    )?
    .id)
}

fn person(
    conn: &mut DbConnection,
    email: &'static str,
    name: &str,
    role: Role,
    organization: &avip_db::model::OrganizationId,
    creches: &[&avip_db::model::CrecheId],
    now: DateTime<Utc>,
) -> anyhow::Result<Person> {
    let body = CreateUser {
        email: email.into(),
        name: name.into(),
        role,
        organization_id: organization.to_string(),
        password: DEMO_PASSWORD.into(),
        creche_ids: creches.iter().map(|c| c.to_string()).collect(),
    };
    let (user, _) = explain(email, users::create(conn, Operator, body, now))?;
    let principal = avip_app::auth::principal::load(conn, Subject::User(user.id), None)?
        .context("a demo account was disabled as it was made")?;
    Ok(Person { email, principal })
}

fn creche(
    conn: &mut DbConnection,
    operator: &avip_db::model::OrganizationId,
    (name, address, postal_code, commune, places): (&str, &str, &str, &str, i32),
    closes: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<avip_db::model::CrecheId> {
    use Weekday::*;
    let body = CreateCreche {
        operator_id: operator.to_string(),
        name: name.into(),
        address: address.into(),
        postal_code: postal_code.into(),
        commune: commune.into(),
        avip_places: places,
        opening_hours: OpeningHours {
            opens: "07:00".into(),
            closes: closes.into(),
            days: vec![Mon, Tue, Wed, Thu, Fri],
        },
        escalation_email: Some("direction.petite-enfance@demo.avip.example".into()),
        coordinator_ids: Vec::new(),
    };
    Ok(explain(name, creches::create(conn, Operator, body, now))?
        .creche
        .id)
}

const PARENTS: &[(&str, &str)] = &[
    ("Amina", "Benali"),
    ("Julie", "Martin"),
    ("Sofia", "Rossi"),
    ("Karim", "Haddad"),
    ("Laura", "Garcia"),
    ("Fatou", "Diallo"),
    ("Céline", "Moreau"),
    ("Nadia", "Boualem"),
    ("Marine", "Lefèvre"),
    ("Yasmine", "Cherif"),
    ("Élodie", "Fabre"),
    ("Inès", "Mercier"),
];
const CHILDREN: &[&str] = &[
    "Yanis", "Lina", "Noah", "Jade", "Adam", "Louise", "Sacha", "Mila", "Nolan", "Alba", "Ilyes",
    "Rose",
];
const COMMUNES: &[(&str, &str)] = &[
    ("83000", "Toulon"),
    ("83200", "Toulon"),
    ("83500", "La Seyne-sur-Mer"),
    ("83400", "Hyères"),
    ("83130", "La Garde"),
];

/// What the demo does to referral number `i`, in a cycle over every status.
const PLAN: &[&str] = &[
    "received",
    "contacted",
    "offered_late",
    "waitlisted",
    "declined",
    "withdrawn",
    "enrolled",
    "exited",
    "renewed",
];

pub fn run(settings: &Settings) -> anyhow::Result<()> {
    if settings.env == avip_app::settings::Environment::Production {
        anyhow::bail!(
            "AVIP_ENV=production: avip demo creates accounts with a published password and \
             runs in development only"
        );
    }
    let mut conn = avip_db::connect(&settings.database_url)?;
    avip_db::migrations::run_pending(&mut conn)
        .map_err(|e| anyhow::anyhow!("cannot apply migrations: {e}"))?;
    if !avip_db::organizations::is_empty(&mut conn)? {
        anyhow::bail!(
            "{} already holds data: avip demo only fills an empty database \
             (point DATABASE_URL at a new file, e.g. DATABASE_URL=demo.db)",
            avip_db::pool::Target::parse(&settings.database_url)
                .map(|t| t.display())
                .unwrap_or_default()
        );
    }
    let now = Utc::now();
    let active = avip_sla_engine::store::activate(&mut conn, &settings.sla, now)?;
    let hold = avip_app::workflow::places::OfferHold::new(settings.offer_hold);
    let count = avip_db::write_transaction(&mut conn, |conn| {
        fill(conn, &active, hold, settings.public_url.as_str(), now)
    })?;
    print_guide(settings, count);
    Ok(())
}

fn fill(
    conn: &mut DbConnection,
    active: &avip_sla_engine::ActivePolicy,
    hold: avip_app::workflow::places::OfferHold,
    links: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    use OrganizationKind::*;
    let admin_org = organization(conn, Admin, "Administration AVIP", now)?;
    let ft_toulon = organization(conn, FranceTravail, "France Travail Toulon Est", now)?;
    let ft_hyeres = organization(conn, FranceTravail, "France Travail Hyères", now)?;
    let cd = organization(
        conn,
        ConseilDepartemental,
        "Conseil départemental du Var",
        now,
    )?;
    let ml_toulon = organization(conn, MissionLocale, "Mission locale Toulon Provence", now)?;
    let ml_seyne = organization(
        conn,
        MissionLocale,
        "Mission locale de La Seyne-sur-Mer",
        now,
    )?;
    let caf = organization(conn, Caf, "CAF du Var", now)?;
    let toulon = organization(conn, CrecheOperator, "Ville de Toulon", now)?;
    let galipettes = organization(conn, CrecheOperator, "Association Les Galipettes", now)?;

    let petits_pas = creche(
        conn,
        &toulon,
        ("Les Petits Pas", "12 rue Victor Hugo", "83000", "Toulon", 6),
        "19:30",
        now,
    )?;
    let lucioles = creche(
        conn,
        &toulon,
        (
            "Les Lucioles",
            "5 avenue de la République",
            "83200",
            "Toulon",
            4,
        ),
        "18:30",
        now,
    )?;
    let ribambelle = creche(
        conn,
        &galipettes,
        (
            "La Ribambelle",
            "30 boulevard Stalingrad",
            "83500",
            "La Seyne-sur-Mer",
            5,
        ),
        "20:00",
        now,
    )?;
    let moussaillons = creche(
        conn,
        &galipettes,
        (
            "Les Moussaillons",
            "8 rue de l'Église",
            "83400",
            "Hyères",
            3,
        ),
        "18:30",
        now,
    )?;

    person(
        conn,
        "admin@demo.avip.example",
        "Administrateur AVIP",
        Role::Admin,
        &admin_org,
        &[],
        now,
    )?;
    let claire = person(
        conn,
        "coordination@toulon.demo.avip.example",
        "Claire Martin",
        Role::Coordinator,
        &toulon,
        &[&petits_pas, &lucioles],
        now,
    )?;
    let karine = person(
        conn,
        "coordination@galipettes.demo.avip.example",
        "Karine Ollivier",
        Role::Coordinator,
        &galipettes,
        &[&ribambelle, &moussaillons],
        now,
    )?;
    let prescribers = [
        person(
            conn,
            "referent@ft-toulon.demo.avip.example",
            "Paul Durand",
            Role::Prescriber,
            &ft_toulon,
            &[],
            now,
        )?,
        person(
            conn,
            "referent@ft-hyeres.demo.avip.example",
            "Sandrine Blanc",
            Role::Prescriber,
            &ft_hyeres,
            &[],
            now,
        )?,
        person(
            conn,
            "insertion@cd83.demo.avip.example",
            "Michel Roux",
            Role::Prescriber,
            &cd,
            &[],
            now,
        )?,
        person(
            conn,
            "conseiller@ml-toulon.demo.avip.example",
            "Léa Nguyen",
            Role::Prescriber,
            &ml_toulon,
            &[],
            now,
        )?,
        person(
            conn,
            "conseiller@ml-seyne.demo.avip.example",
            "Hugo Petit",
            Role::Prescriber,
            &ml_seyne,
            &[],
            now,
        )?,
    ];
    person(
        conn,
        "evaluation@caf83.demo.avip.example",
        "Analyste CAF",
        Role::Caf,
        &caf,
        &[],
        now,
    )?;

    let creches = [
        (&petits_pas, &claire),
        (&lucioles, &claire),
        (&ribambelle, &karine),
        (&moussaillons, &karine),
    ];
    let referral_count = 36;
    // Oldest first, so that references follow the order of receipt.
    for i in (0..referral_count).rev() {
        let plan = PLAN[i % PLAN.len()];
        let (creche_id, coordinator) = creches[i % creches.len()];
        let prescriber = &prescribers[(i * 7 + i / 4) % prescribers.len()];
        // Spread over the last four months; the ones still waiting are
        // recent, a few past their deadline.
        let received = match plan {
            "received" => now - Duration::hours([6, 80, 30, 100][(i / PLAN.len()) % 4]),
            _ => now - Duration::hours(36 + (i as i64) * 83),
        };
        let (first, last) = PARENTS[i % PARENTS.len()];
        let (postal_code, commune) = COMMUNES[i % COMMUNES.len()];
        let child = CHILDREN[(i * 5) % CHILDREN.len()];
        let birth = (received - Duration::days(120 + (i as i64 * 37) % 700)).date_naive();
        let start = (received + Duration::days(14)).date_naive();
        let request = ReferralRequest {
            creche_id: creche_id.to_string(),
            referent: ReferentIn {
                name: "Référent insertion".into(),
                email: prescriber.email.into(),
                phone: Some("0494000000".into()),
            },
            parent: ParentIn {
                first_name: first.into(),
                last_name: last.into(),
                phone: Some(format!("06{:08}", 12_345_600 + i)),
                email: Some(format!("parent{i}@famille.demo.avip.example")),
                postal_code: postal_code.into(),
                commune: commune.into(),
                situation: [
                    avip_db::model::ParentSituation::JobSeeker,
                    avip_db::model::ParentSituation::Rsa,
                    avip_db::model::ParentSituation::YoungUnder26,
                    avip_db::model::ParentSituation::Training,
                ][i % 4],
                single_parent: i % 3 != 0,
                qpv_resident: i % 2 == 0,
                france_travail_id: (i % 4 == 0).then(|| format!("{:07}A", 1_000_000 + i)),
            },
            children: vec![ChildIn {
                first_name: child.into(),
                birth_date: birth,
            }],
            needs: NeedsIn {
                desired_start_date: start,
                days_per_week: Some(3 + (i % 3) as i32),
                atypical_hours: i % 5 == 0,
                notes: Some("horaires de formation de 8h30 à 17h".into()),
            },
            insertion_project: ProjectIn {
                kind: [
                    avip_db::model::ProjectKind::JobSearch,
                    avip_db::model::ProjectKind::Training,
                    avip_db::model::ProjectKind::JobInterview,
                ][i % 3],
                description: Some("reprise d'emploi dans l'aide à la personne".into()),
            },
            consent: ConsentIn {
                given: true,
                date: (received - Duration::days(1)).date_naive(),
            },
        };
        let draft = ReferralDraft::parse(request, avip_sla_engine::clock::paris_date(received))
            .map_err(|e| anyhow::anyhow!("demo referral {i}: {e}"))?;
        let intake = explain(
            "referral",
            referrals::intake(conn, &prescriber.principal, &draft, None, active, received),
        )?;
        let id = intake.record.referral.id;
        walk(
            conn,
            plan,
            &id,
            coordinator,
            prescriber,
            received,
            start,
            (&active.policy, hold, links),
            now,
        )?;
    }
    // The referents were told of this made-up past at the time of the
    // story: their notices are not sent now.
    avip_db::notifications::settle_pending_of_kind(
        conn,
        avip_db::model::NotificationKind::ReferentNotice,
        avip_db::model::to_db_time(now),
    )?;
    Ok(referral_count)
}

#[allow(clippy::too_many_arguments)]
fn walk(
    conn: &mut DbConnection,
    plan: &str,
    id: &ReferralId,
    coordinator: &Person,
    prescriber: &Person,
    received: DateTime<Utc>,
    start: chrono::NaiveDate,
    (policy, hold, links): (
        &avip_sla_engine::Policy,
        avip_app::workflow::places::OfferHold,
        &str,
    ),
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    use avip_db::model::ReferralStatus::*;
    let c = &coordinator.principal;
    let step =
        |conn: &mut DbConnection, who: &Principal, to, reason: Option<&str>, note: &str, at| {
            let request = TransitionRequest {
                to,
                reason: reason.map(str::to_owned),
                note: Some(note.to_owned()),
            };
            explain(
                "transition",
                referrals::transition(conn, who, id, request, hold, links, at),
            )
            .map(drop)
        };
    let answered = received + Duration::hours(if plan == "offered_late" { 90 } else { 20 });
    match plan {
        "received" => {}
        "contacted" => step(
            conn,
            c,
            Contacted,
            None,
            "appel à la famille, rendez-vous fixé",
            answered,
        )?,
        "waitlisted" => step(
            conn,
            c,
            Waitlisted,
            None,
            "pas de place avant janvier",
            answered,
        )?,
        "declined" => step(
            conn,
            c,
            Declined,
            Some("no_place_matching_hours"),
            "horaires de travail de nuit",
            answered,
        )?,
        "withdrawn" => step(
            conn,
            &prescriber.principal,
            Withdrawn,
            Some("other_childcare_found"),
            "assistante maternelle trouvée",
            answered,
        )?,
        "offered_late" => step(
            conn,
            c,
            Offered,
            None,
            "place proposée à la Ribambelle",
            answered,
        )?,
        "enrolled" | "exited" | "renewed" => {
            step(
                conn,
                c,
                Contacted,
                None,
                "premier échange avec la maman",
                answered,
            )?;
            step(
                conn,
                c,
                Offered,
                None,
                "place proposée",
                answered + Duration::hours(30),
            )?;
            let enrolled_at = answered + Duration::hours(60);
            let draft = EnrollmentRequest {
                start_date: start,
                contract_end_date: None,
                days: vec![Weekday::Mon, Weekday::Tue, Weekday::Thu, Weekday::Fri],
                hours: Some(HoursIn {
                    from: "08:30".into(),
                    to: "17:30".into(),
                }),
                note: None,
                force: false,
                force_reason: None,
            };
            explain(
                "enrollment",
                referrals::enroll(conn, c, id, draft, policy, links, enrolled_at),
            )?;
            let follow_up_at = (enrolled_at + Duration::days(20)).min(now);
            let request = FollowUpRequest {
                date: avip_sla_engine::clock::paris_date(follow_up_at),
                participants: vec![
                    avip_db::model::Participant::Coordinator,
                    avip_db::model::Participant::Referent,
                ],
                employment_status: avip_db::model::EmploymentStatus::Training,
                next_steps: Some("point en fin de formation".into()),
                next_date: None,
            };
            explain(
                "follow-up",
                referrals::add_follow_up(
                    conn,
                    &prescriber.principal,
                    id,
                    request,
                    policy,
                    follow_up_at,
                ),
            )?;
            if plan == "renewed" {
                let change = avip_app::domain::referral::EnrollmentChange {
                    renew: true,
                    ..Default::default()
                };
                explain(
                    "renewal",
                    referrals::change_enrollment(conn, c, id, change, policy, follow_up_at),
                )?;
            }
            if plan == "exited" {
                let exit = ExitRequest {
                    date: avip_sla_engine::clock::paris_date(follow_up_at),
                    reason: avip_db::model::ExitReason::Employment,
                    employment_status: avip_db::model::EmploymentStatus::EmployedPermanent,
                    positive: true,
                    childcare_solution: avip_db::model::ChildcareSolution::SameCreche,
                    note: Some("CDI d'aide-soignante".into()),
                };
                explain(
                    "exit",
                    referrals::exit(conn, c, id, exit, links, follow_up_at),
                )?;
            }
        }
        other => anyhow::bail!("unknown demo plan {other}"),
    }
    Ok(())
}

fn print_guide(settings: &Settings, referrals: usize) {
    let base = format!("http://{}", settings.bind);
    let login = |who: &str| {
        format!(
            "curl -s -d grant_type=password -d username={who} --data-urlencode 'password={DEMO_PASSWORD}' \
             {base}/api/v1/auth/token | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/'"
        )
    };
    println!(
        "A demo territory in the Var is ready: 9 organisations, 4 crèches, {referrals} referrals.

Every account's password: {DEMO_PASSWORD}
  admin@demo.avip.example                       admin
  coordination@toulon.demo.avip.example         coordinator (Les Petits Pas, Les Lucioles)
  coordination@galipettes.demo.avip.example     coordinator (La Ribambelle, Les Moussaillons)
  referent@ft-toulon.demo.avip.example          prescriber, France Travail Toulon Est
  referent@ft-hyeres.demo.avip.example          prescriber, France Travail Hyères
  insertion@cd83.demo.avip.example              prescriber, Conseil départemental du Var
  conseiller@ml-toulon.demo.avip.example        prescriber, Mission locale Toulon Provence
  conseiller@ml-seyne.demo.avip.example         prescriber, Mission locale de La Seyne-sur-Mer
  evaluation@caf83.demo.avip.example            CAF

Start the service on the same database (`avip`, or `cargo run`), open the
workspace at {base}/app/ and sign in with one of these accounts, or try:

  COORD=$({coord})
  curl -s -H \"Authorization: Bearer $COORD\" '{base}/api/v1/referrals?status=received'
  curl -s -H \"Authorization: Bearer $COORD\" '{base}/api/v1/referrals?overdue=true'

  PRESC=$({presc})
  curl -s -H \"Authorization: Bearer $PRESC\" '{base}/api/v1/referrals?limit=5'

  Take an id from a list, then, as the coordinator:
  curl -s -H \"Authorization: Bearer $COORD\" -H 'Content-Type: application/json' \\
    -d '{{\"to\": \"contacted\", \"note\": \"appel à la famille\"}}' {base}/api/v1/referrals/<id>/transitions
  curl -s -H \"Authorization: Bearer $COORD\" {base}/api/v1/referrals/<id>/events

The interactive documentation: {base}/docs/",
        coord = login("coordination@toulon.demo.avip.example"),
        presc = login("referent@ft-toulon.demo.avip.example"),
    );
}
