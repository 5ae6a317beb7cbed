//! `avip backup` (the function the command calls): a consistent copy taken
//! while referrals keep coming in, which restores into a working service.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use avip_api::{Application, ServerOptions, Settings};
use avip_db::Backend;
use avip_db::backup::{Backup, backup};
use avip_tests::{spawn_app_with, test_env};
use diesel::RunQueryDsl;

use crate::referrals::{referral, territory};

#[tokio::test]
async fn a_backup_during_a_burst_of_intake_holds_every_acknowledged_referral_and_restores() {
    let app = spawn_app_with(|env| {
        env.insert("AVIP_INTAKE_RATE_LIMIT".into(), "1000000".into());
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("copy.db");
    if app.db.backend == Backend::Postgres {
        match backup(&app.db.url, &file).unwrap() {
            Backup::UsePgDump { command } => {
                assert!(command.starts_with("pg_dump --format=custom"), "{command}");
                assert!(command.contains(&app.db.url.rsplit('/').next().unwrap().to_owned()));
            }
            other => panic!("PostgreSQL is backed up by pg_dump, not {other:?}"),
        }
        assert!(!file.exists());
        return;
    }
    let t = territory(&app).await;

    // Four clients post referrals without pause; each 201 is noted with
    // the instant it was received.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let mut burst = Vec::new();
    for client in 0..4 {
        let (stop, acknowledged) = (stop.clone(), acknowledged.clone());
        let (http, url, token, creche) = (
            app.client.clone(),
            app.url("/api/v1/referrals"),
            t.prescriber.clone(),
            t.creche.clone(),
        );
        burst.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let body = referral(&creche, &format!("Enfant{client}x{n}"));
                n += 1;
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let v: serde_json::Value = r.json().await.unwrap();
                acknowledged
                    .lock()
                    .unwrap()
                    .push((v["id"].as_str().unwrap().to_owned(), Instant::now()));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let (url, to) = (app.db.url.clone(), file.clone());
    let written = tokio::task::spawn_blocking(move || backup(&url, &to))
        .await
        .unwrap()
        .expect("the backup is written");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for task in burst {
        task.await.unwrap();
    }
    let Backup::Written { referrals, .. } = written else {
        panic!("SQLite is copied: {written:?}");
    };
    let acknowledged = acknowledged.lock().unwrap().clone();
    let before: Vec<&String> = acknowledged
        .iter()
        .filter(|(_, at)| *at < started)
        .map(|(id, _)| id)
        .collect();
    let after = acknowledged.len() - before.len();
    assert!(
        before.len() >= 10,
        "the burst ran before the backup: {}",
        before.len()
    );
    assert!(after > 0, "intake went on during and after the backup");

    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut copy = avip_db::connect(&file.to_string_lossy()).unwrap();
    let ids: Vec<String> = diesel::sql_query("SELECT id FROM referrals")
        .load::<Id>(&mut copy)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids.len() as i64, referrals);
    for id in &before {
        assert!(
            ids.contains(id),
            "{id} was acknowledged before the backup and is missing"
        );
    }
    drop(copy);

    // Restored: a service started on the copy answers for those referrals.
    let mail = tempfile::tempdir().unwrap();
    let mut env = test_env(&app.db, mail.path());
    env.insert("DATABASE_URL".into(), file.to_string_lossy().into_owned());
    let restored = Application::build_with(
        Settings::from_map(&env).unwrap(),
        ServerOptions {
            workers: Some(1),
            handle_signals: false,
            sla_engine: false,
            record_reads: true,
        },
    )
    .await
    .expect("a service starts on the copy");
    let port = restored.port();
    let handle = restored.handle();
    tokio::spawn(restored.run_until_stopped());
    let r = app
        .client
        .get(format!(
            "http://127.0.0.1:{port}/api/v1/referrals/{}",
            before[0]
        ))
        .bearer_auth(&t.prescriber)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    handle.stop(true).await;

    // A second backup never overwrites the first.
    assert!(matches!(
        backup(&app.db.url, &file),
        Err(avip_db::backup::BackupError::Exists(_))
    ));
}
