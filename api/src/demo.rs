//! `avip demo`: a living territory in the Var for a newcomer to explore:
//! prescribers, the CAF, two crèche operators with four crèches and their
//! coordinators, and a few dozen referrals in every status, some answered
//! late and some still waiting. It goes through the same functions as the API.

use anyhow::Context;
use avip_db::DbConnection;
use avip_db::model::{ContactPreference, OrganizationKind, ReferralId, Role};
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
    (email, name): (&'static str, &str),
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
        phone: Some(format!("04 94 00 {:02} {:02}", places, closes.len())),
        auto_acknowledgment: false,
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

/// The demo's people: the crèches with their coordinator, the prescribers.
struct Cast {
    creches: Vec<(avip_db::model::CrecheId, usize)>,
    coordinators: Vec<Person>,
    prescribers: Vec<Person>,
}

/// The territory's organisations, all in the Var.
const ORGANISATIONS: [(OrganizationKind, &str); 9] = [
    (OrganizationKind::Admin, "Administration AVIP"),
    (OrganizationKind::FranceTravail, "France Travail Toulon Est"),
    (OrganizationKind::FranceTravail, "France Travail Hyères"),
    (
        OrganizationKind::ConseilDepartemental,
        "Conseil départemental du Var",
    ),
    (
        OrganizationKind::MissionLocale,
        "Mission locale Toulon Provence",
    ),
    (
        OrganizationKind::MissionLocale,
        "Mission locale de La Seyne-sur-Mer",
    ),
    (OrganizationKind::Caf, "CAF du Var"),
    (OrganizationKind::CrecheOperator, "Ville de Toulon"),
    (
        OrganizationKind::CrecheOperator,
        "Association Les Galipettes",
    ),
];

/// The crèches: their operator (in `ORGANISATIONS`), where they are, their
/// AVIP places and closing time.
type Place = (&'static str, &'static str, &'static str, &'static str, i32);
const CRECHES: [(usize, Place, &str); 4] = [
    (
        7,
        ("Les Petits Pas", "12 rue Victor Hugo", "83000", "Toulon", 6),
        "19:30",
    ),
    (
        7,
        (
            "Les Lucioles",
            "5 avenue de la République",
            "83200",
            "Toulon",
            4,
        ),
        "18:30",
    ),
    (
        8,
        (
            "La Ribambelle",
            "30 boulevard Stalingrad",
            "83500",
            "La Seyne-sur-Mer",
            5,
        ),
        "20:00",
    ),
    (
        8,
        (
            "Les Moussaillons",
            "8 rue de l'Église",
            "83400",
            "Hyères",
            3,
        ),
        "18:30",
    ),
];

/// Every account but the coordinators: e-mail, name, role, organisation.
const ACCOUNTS: [(&str, &str, Role, usize); 7] = [
    (
        "admin@demo.avip.example",
        "Administrateur AVIP",
        Role::Admin,
        0,
    ),
    (
        "referent@ft-toulon.demo.avip.example",
        "Paul Durand",
        Role::Prescriber,
        1,
    ),
    (
        "referent@ft-hyeres.demo.avip.example",
        "Sandrine Blanc",
        Role::Prescriber,
        2,
    ),
    (
        "insertion@cd83.demo.avip.example",
        "Michel Roux",
        Role::Prescriber,
        3,
    ),
    (
        "conseiller@ml-toulon.demo.avip.example",
        "Léa Nguyen",
        Role::Prescriber,
        4,
    ),
    (
        "conseiller@ml-seyne.demo.avip.example",
        "Hugo Petit",
        Role::Prescriber,
        5,
    ),
    (
        "evaluation@caf83.demo.avip.example",
        "Analyste CAF",
        Role::Caf,
        6,
    ),
];

/// The coordinators: e-mail, name, operator, the crèches (in `CRECHES`).
const COORDINATORS: [(&str, &str, usize, [usize; 2]); 2] = [
    (
        "coordination@toulon.demo.avip.example",
        "Claire Martin",
        7,
        [0, 1],
    ),
    (
        "coordination@galipettes.demo.avip.example",
        "Karine Ollivier",
        8,
        [2, 3],
    ),
];

/// The organisations, crèches and accounts of the territory.
fn cast(conn: &mut DbConnection, now: DateTime<Utc>) -> anyhow::Result<Cast> {
    let mut orgs = Vec::new();
    for (kind, name) in ORGANISATIONS {
        orgs.push(organization(conn, kind, name, now)?);
    }
    let mut creches = Vec::new();
    for (operator, place, closes) in CRECHES {
        creches.push(creche(conn, &orgs[operator], place, closes, now)?);
    }
    let mut cast = Cast {
        creches: Vec::new(),
        coordinators: Vec::new(),
        prescribers: Vec::new(),
    };
    for (email, name, role, org) in ACCOUNTS {
        let person = person(conn, (email, name), role, &orgs[org], &[], now)?;
        if role == Role::Prescriber {
            cast.prescribers.push(person);
        }
    }
    for (index, (email, name, org, theirs)) in COORDINATORS.into_iter().enumerate() {
        let theirs = theirs.map(|c| &creches[c]);
        let role = Role::Coordinator;
        cast.coordinators
            .push(person(conn, (email, name), role, &orgs[org], &theirs, now)?);
        cast.creches
            .extend(theirs.into_iter().map(|c| (c.clone(), index)));
    }
    Ok(cast)
}

/// What the demo holds the story to: the rules and links of the service.
struct Story<'a> {
    policy: &'a avip_sla_engine::Policy,
    rules: avip_app::workflow::places::Rules,
    links: &'a str,
    now: DateTime<Utc>,
}

fn fill(
    conn: &mut DbConnection,
    active: &avip_sla_engine::ActivePolicy,
    hold: avip_app::workflow::places::OfferHold,
    links: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let cast = cast(conn, now)?;
    let story = Story {
        policy: &active.policy,
        rules: avip_app::workflow::places::Rules {
            hold,
            zone: active.policy.holiday_zone,
        },
        links,
        now,
    };
    let referral_count = 36;
    // Oldest first, so that references follow the order of receipt.
    for i in (0..referral_count).rev() {
        let plan = PLAN[i % PLAN.len()];
        let (creche_id, coordinator) = &cast.creches[i % cast.creches.len()];
        let coordinator = &cast.coordinators[*coordinator];
        let prescriber = &cast.prescribers[(i * 7 + i / 4) % cast.prescribers.len()];
        // Spread over the last four months; the ones still waiting are
        // recent, a few past their deadline.
        let received = match plan {
            "received" => now - Duration::hours([6, 80, 30, 100][(i / PLAN.len()) % 4]),
            _ => now - Duration::hours(36 + (i as i64) * 83),
        };
        let start = (received + Duration::days(14)).date_naive();
        let request = family(i, creche_id, prescriber.email, received, start);
        let draft = ReferralDraft::parse(request, avip_sla_engine::clock::paris_date(received))
            .map_err(|e| anyhow::anyhow!("demo referral {i}: {e}"))?;
        let intake = explain(
            "referral",
            referrals::intake(
                conn,
                &prescriber.principal,
                &draft,
                (None, links),
                active,
                received,
            ),
        )?;
        let id = intake.record.referral.id;
        let cast = (coordinator, prescriber);
        walk(conn, plan, &id, cast, (received, start), &story)?;
    }
    // The referents and the coordinators were told of this made-up past at
    // the time of the story: their notices are not sent now.
    for kind in [
        avip_db::model::NotificationKind::ReferentNotice,
        avip_db::model::NotificationKind::ArrivalNotice,
    ] {
        avip_db::notifications::settle_pending_of_kind(
            conn,
            kind,
            avip_db::model::to_db_time(now),
        )?;
    }
    Ok(referral_count)
}

/// The weeks the families need, in turn.
const WEEKS: [&[Weekday]; 3] = [
    &[Weekday::Mon, Weekday::Tue, Weekday::Thu],
    &[Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu],
    &[
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ],
];

/// Family number `i`, as its prescriber sends it.
/// How the demo's families asked to be reached: a mix.
fn preference(i: usize) -> Option<ContactPreference> {
    [
        Some(ContactPreference::Sms),
        Some(ContactPreference::Email),
        Some(ContactPreference::PhoneCall),
        None,
    ][i % 4]
}

fn family(
    i: usize,
    creche_id: &avip_db::model::CrecheId,
    referent_email: &str,
    received: DateTime<Utc>,
    start: chrono::NaiveDate,
) -> ReferralRequest {
    use avip_db::model::{ParentSituation, ProjectKind};
    let (first, last) = PARENTS[i % PARENTS.len()];
    let (postal_code, commune) = COMMUNES[i % COMMUNES.len()];
    let child = CHILDREN[(i * 5) % CHILDREN.len()];
    let birth = (received - Duration::days(120 + (i as i64 * 37) % 700)).date_naive();
    let situations = [
        ParentSituation::JobSeeker,
        ParentSituation::Rsa,
        ParentSituation::YoungUnder26,
        ParentSituation::Training,
    ];
    let projects = [
        ProjectKind::JobSearch,
        ProjectKind::Training,
        ProjectKind::JobInterview,
    ];
    ReferralRequest {
        creche_id: creche_id.to_string(),
        referent: ReferentIn {
            name: "Référent insertion".into(),
            email: referent_email.into(),
            phone: Some("0494000000".into()),
        },
        parent: ParentIn {
            first_name: first.into(),
            last_name: last.into(),
            phone: Some(format!("06{:08}", 12_345_600 + i)),
            email: Some(format!("parent{i}@famille.demo.avip.example")),
            postal_code: postal_code.into(),
            commune: commune.into(),
            situation: situations[i % 4],
            single_parent: !i.is_multiple_of(3),
            qpv_resident: i.is_multiple_of(2),
            france_travail_id: i
                .is_multiple_of(4)
                .then(|| format!("{:07}A", 1_000_000 + i)),
            contact_preference: preference(i),
        },
        children: vec![ChildIn {
            first_name: child.into(),
            birth_date: birth,
        }],
        needs: NeedsIn {
            desired_start_date: start,
            days_per_week: None,
            days: Some(WEEKS[i % WEEKS.len()].to_vec()),
            hours: Some(if i.is_multiple_of(5) {
                HoursIn {
                    from: "06:30".into(),
                    to: "18:00".into(),
                }
            } else {
                HoursIn {
                    from: "08:30".into(),
                    to: "17:30".into(),
                }
            }),
            atypical_hours: false,
            notes: Some("horaires de formation de 8h30 à 17h".into()),
        },
        insertion_project: ProjectIn {
            kind: projects[i % 3],
            description: Some("reprise d'emploi dans l'aide à la personne".into()),
        },
        consent: ConsentIn {
            given: true,
            date: (received - Duration::days(1)).date_naive(),
        },
    }
}

/// Moves a referral one step, as `who`, at `at`.
fn step(
    conn: &mut DbConnection,
    (id, who): (&ReferralId, &Principal),
    (to, reason, note): (avip_db::model::ReferralStatus, Option<&str>, &str),
    story: &Story<'_>,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let request = TransitionRequest {
        to,
        reason: reason.map(str::to_owned),
        note: Some(note.to_owned()),
        force: false,
        force_reason: None,
    };
    explain(
        "transition",
        referrals::transition(conn, who, id, request, story.rules, story.links, at),
    )
    .map(drop)
}

/// Takes referral `id` along its plan, from its receipt.
fn walk(
    conn: &mut DbConnection,
    plan: &str,
    id: &ReferralId,
    (coordinator, prescriber): (&Person, &Person),
    (received, start): (DateTime<Utc>, chrono::NaiveDate),
    story: &Story<'_>,
) -> anyhow::Result<()> {
    use avip_db::model::ReferralStatus::*;
    let c = (id, &coordinator.principal);
    let p = (id, &prescriber.principal);
    let answered = received + Duration::hours(if plan == "offered_late" { 90 } else { 20 });
    let call = "appel à la famille, rendez-vous fixé";
    match plan {
        "received" => Ok(()),
        "contacted" => step(conn, c, (Contacted, None, call), story, answered),
        "waitlisted" => {
            let why = (Waitlisted, None, "pas de place avant janvier");
            step(conn, c, why, story, answered)
        }
        "declined" => {
            let reason = Some("no_place_matching_hours");
            let why = (Declined, reason, "horaires de travail de nuit");
            step(conn, c, why, story, answered)
        }
        "withdrawn" => {
            let reason = Some("other_childcare_found");
            let why = (Withdrawn, reason, "assistante maternelle trouvée");
            step(conn, p, why, story, answered)
        }
        "offered_late" => {
            let why = (Offered, None, "place proposée à la Ribambelle");
            step(conn, c, why, story, answered)
        }
        "enrolled" | "exited" | "renewed" => {
            let first = (Contacted, None, "premier échange avec la maman");
            step(conn, c, first, story, answered)?;
            let offered = answered + Duration::hours(30);
            step(conn, c, (Offered, None, "place proposée"), story, offered)?;
            let enrolled_at = answered + Duration::hours(60);
            enroll_and_follow(
                conn,
                plan,
                id,
                (coordinator, prescriber),
                (enrolled_at, start),
                story,
            )
        }
        other => anyhow::bail!("unknown demo plan {other}"),
    }
}

/// Enrolls the child, records a follow-up, then renews or exits per plan.
fn enroll_and_follow(
    conn: &mut DbConnection,
    plan: &str,
    id: &ReferralId,
    (coordinator, prescriber): (&Person, &Person),
    (enrolled_at, start): (DateTime<Utc>, chrono::NaiveDate),
    story: &Story<'_>,
) -> anyhow::Result<()> {
    use avip_db::model::{ChildcareSolution, EmploymentStatus, ExitReason, Participant};
    let c = &coordinator.principal;
    let (policy, links) = (story.policy, story.links);
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
    let follow_up_at = (enrolled_at + Duration::days(20)).min(story.now);
    let request = FollowUpRequest {
        date: avip_sla_engine::clock::paris_date(follow_up_at),
        participants: vec![Participant::Coordinator, Participant::Referent],
        employment_status: EmploymentStatus::Training,
        next_steps: Some("point en fin de formation".into()),
        next_date: None,
    };
    let p = &prescriber.principal;
    explain(
        "follow-up",
        referrals::add_follow_up(conn, p, id, request, policy, follow_up_at),
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
            reason: ExitReason::Employment,
            employment_status: EmploymentStatus::EmployedPermanent,
            positive: None,
            childcare_solution: ChildcareSolution::SameCreche,
            note: Some("CDI d'aide-soignante".into()),
        };
        explain(
            "exit",
            avip_app::workflow::exits::exit(conn, c, id, exit, links, follow_up_at),
        )?;
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
