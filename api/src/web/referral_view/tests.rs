use super::*;
use avip_app::auth::Subject;
use avip_app::views::referral::SlaBlock;
use avip_db::model::{CrecheId, OrganizationId, OrganizationKind, ReferralId, Role, UserId};
use chrono::{DateTime, Utc};
use serde_json::{from_value, json};

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A referral received on 22 November, 16:00 UTC, with three days left.
fn received(creche: &CrecheId, prescriber: &OrganizationId) -> ReferralBody {
    ReferralBody {
        id: ReferralId::generate(),
        reference: "AVIP-83-2026-00042".into(),
        status: ReferralStatus::Received,
        creche_id: creche.clone(),
        prescriber_organization_id: prescriber.clone(),
        referent: from_value(json!({"name": "Paul Durand", "email": "p.durand@example.org"}))
            .unwrap(),
        parent: from_value(json!({"first_name": "Amina", "last_name": "Benali",
            "phone": "0612345678", "postal_code": "83000", "commune": "Toulon",
            "situation": "job_seeker", "single_parent": true, "qpv_resident": false}))
        .unwrap(),
        children: vec![
            from_value(json!({"first_name": "Yanis", "birth_date": "2025-03-14"})).unwrap(),
        ],
        needs: from_value(
            json!({"desired_start_date": "2026-12-01", "days_per_week": 4,
            "atypical_hours": false}),
        )
        .unwrap(),
        insertion_project: from_value(json!({"kind": "training"})).unwrap(),
        consent: from_value(json!({"given": true, "date": "2026-11-20"})).unwrap(),
        received_at: at("2026-11-22T16:00:00Z"),
        first_response_at: None,
        updated_at: at("2026-11-22T16:00:00Z"),
        closed_at: None,
        closing_reason: None,
        anonymised_at: None,
        sla: SlaBlock {
            clock: "calendar".into(),
            policy_version: Some(1),
            due_at: Some(at("2026-11-25T16:00:00Z")),
            stage: None,
            met: None,
            seconds_left: Some(3 * 24 * 3600),
        },
        enrollment: None,
        exit: None,
        planned_exit: None,
    }
}

fn person(role: Role, creches: &[CrecheId]) -> Principal {
    Principal {
        subject: Subject::User(UserId::generate()),
        organization_id: OrganizationId::generate(),
        organization_kind: OrganizationKind::CrecheOperator,
        departement: "83".into(),
        role,
        creche_ids: creches.to_vec(),
    }
}

fn value<'a>(facts: &'a [Fact], label: &str) -> &'a str {
    &facts.iter().find(|f| f.label == label).unwrap().value
}

#[test]
fn the_family_reads_in_french() {
    let (creche, prescriber) = (CrecheId::generate(), OrganizationId::generate());
    let body = received(&creche, &prescriber);
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let view = View::of(
        &person(Role::Admin, &[]),
        &body,
        "A".into(),
        &[],
        &[],
        today,
    );
    assert_eq!(value(&view.parent, "Parent"), "Amina Benali");
    assert_eq!(value(&view.parent, "Parent isolé"), "oui");
    assert_eq!(value(&view.parent, "Habite en QPV"), "non");
    assert_eq!(
        view.children[0].value,
        "Yanis, né(e) le 14/03/2025 (20 mois)"
    );
    assert_eq!(view.status, "Reçue");
    assert_eq!(view.sla_class, "ok");
    assert!(
        view.sla.starts_with("Réponse attendue avant le "),
        "{}",
        view.sla
    );
}

#[test]
fn each_visitor_is_offered_what_the_rules_allow_it() {
    let (creche, prescriber) = (CrecheId::generate(), OrganizationId::generate());
    let body = received(&creche, &prescriber);
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let view = |who: &Principal| View::of(who, &body, "A".into(), &[], &[], today);

    let own = view(&person(Role::Coordinator, std::slice::from_ref(&creche)));
    let moves: Vec<_> = own.moves.iter().map(|m| m.to).collect();
    assert!(
        moves.contains(&"contacted") && moves.contains(&"offered"),
        "{moves:?}"
    );
    assert!(own.can_decline && own.can_annotate && own.can_withdraw);
    assert!(!own.can_enroll && !own.can_exit && !own.can_change_contract);

    let other = view(&person(Role::Coordinator, &[CrecheId::generate()]));
    assert!(other.moves.is_empty() && !other.can_decline && !other.can_annotate);

    let mut sender = person(Role::Prescriber, &[]);
    sender.organization_id = prescriber.clone();
    let sender = view(&sender);
    assert!(sender.moves.is_empty() && !sender.can_decline);
    assert!(sender.can_withdraw && sender.can_annotate);

    let admin = view(&person(Role::Admin, &[]));
    assert!(admin.moves.is_empty() && !admin.can_withdraw && !admin.can_annotate);
}

#[test]
fn each_email_on_the_timeline_says_to_whom() {
    use avip_app::views::referral::Actor;
    use avip_db::model::{ActorKind, EventId, EventKind};
    let sent = |data: serde_json::Value| EventBody {
        id: EventId::generate(),
        kind: EventKind::EmailSent,
        occurred_at: at("2026-11-23T09:12:00Z"),
        actor: Actor {
            kind: ActorKind::System,
            id: None,
        },
        from_status: None,
        to_status: None,
        reason: None,
        note: None,
        data: Some(data),
    };
    let to_referent = sent(json!({"kind": "referent_notice", "to": ["p.durand@example.org"]}));
    assert_eq!(
        describe_event(&to_referent),
        (
            "E-mail envoyé au référent".to_owned(),
            "p.durand@example.org".to_owned()
        )
    );
    let to_creche = sent(json!({"kind": "first_response_escalation",
        "to": ["c.martin@example.org", "direction@example.org"]}));
    assert_eq!(
        describe_event(&to_creche),
        (
            "E-mail envoyé à la coordination et à la direction de la crèche".to_owned(),
            "c.martin@example.org, direction@example.org".to_owned()
        )
    );
    // Once the family's data is erased, the addresses are gone, the kind stays.
    let anonymised = sent(json!({"kind": "arrival_notice"}));
    assert_eq!(
        describe_event(&anonymised),
        (
            "E-mail envoyé à la coordination de la crèche".to_owned(),
            String::new()
        )
    );
}
