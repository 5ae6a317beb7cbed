//! Evaluation the CAF can trust: exits that cannot contradict themselves.

use avip_tests::spawn_app;
use serde_json::{Value, json};

use crate::referrals::{Territory, id, move_to, new_referral, territory, today};

/// An enrolled child at the territory's crèche.
async fn enrolled(app: &avip_tests::TestApp, t: &Territory, child: &str) -> String {
    let r = id(&new_referral(app, &t.prescriber, &t.creche, child).await);
    move_to(app, &t.coordinator, &r, json!({"to": "offered"}), 200).await;
    let path = format!("/api/v1/referrals/{r}/enrollment");
    let contract = json!({"start_date": today().to_string(), "days": ["mon", "tue", "wed", "thu", "fri"],
        "force": true, "force_reason": "test"});
    app.expect(&t.coordinator, "POST", &path, Some(contract), 201)
        .await;
    r
}

fn fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn an_exit_cannot_contradict_itself_and_its_positive_flag_follows_the_situation() {
    let app = spawn_app().await;
    let t = territory(&app).await;
    let r = enrolled(&app, &t, "Yanis").await;
    let path = format!("/api/v1/referrals/{r}/exit");
    let exit = |reason: &str, status: &str| {
        json!({"date": today().to_string(), "reason": reason, "employment_status": status,
               "childcare_solution": "same_creche"})
    };
    // "Work found" with a parent still looking for work; "training" without it.
    for (reason, status) in [
        ("employment", "job_search"),
        ("training", "employed_permanent"),
    ] {
        let problem = app
            .expect(
                &t.coordinator,
                "POST",
                &path,
                Some(exit(reason, status)),
                422,
            )
            .await;
        assert_eq!(
            fields(&problem),
            ["reason", "employment_status"],
            "{problem}"
        );
    }
    // A positive flag that contradicts the situation, either way.
    for (status, positive) in [("employed_permanent", false), ("job_search", true)] {
        let mut body = exit("other", status);
        body["positive"] = json!(positive);
        let problem = app
            .expect(&t.coordinator, "POST", &path, Some(body), 422)
            .await;
        assert_eq!(fields(&problem), ["positive"], "{problem}");
    }
    let read = app
        .expect(
            &t.coordinator,
            "GET",
            &format!("/api/v1/referrals/{r}"),
            None,
            200,
        )
        .await;
    assert_eq!(read["status"], "enrolled", "nothing was recorded");
    // Without the flag it is derived: a CDI is a positive exit.
    let done = app
        .expect(
            &t.coordinator,
            "POST",
            &path,
            Some(exit("employment", "employed_permanent")),
            200,
        )
        .await;
    assert_eq!(done["exit"]["positive"], true);

    // A move with no solution is not positive, and says so.
    let other = enrolled(&app, &t, "Inès").await;
    let done = app
        .expect(
            &t.coordinator,
            "POST",
            &format!("/api/v1/referrals/{other}/exit"),
            Some(exit("family_moved", "job_search")),
            200,
        )
        .await;
    assert_eq!(done["exit"]["positive"], false);
}
