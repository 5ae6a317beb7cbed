//! The retention job as the service runs it: daily on
//! `AVIP_RETENTION_SCHEDULE` in the SLA engine's scheduler (inside `avip
//! serve`, or `avip sla run`), and `avip retention run [--dry-run] [--at]`.

use avip_db::{Pool, WriteGate};
use chrono::{DateTime, Utc};
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::exports::PseudonymKey;
use crate::settings::Settings;
use crate::workflow::retention::{self, Periods, Report};

pub fn periods(settings: &Settings) -> Periods {
    Periods {
        families: settings.retention,
        access_log: settings.access_log_retention,
    }
}

/// Adds the daily job to a running scheduler.
pub async fn schedule(
    scheduler: &JobScheduler,
    settings: &Settings,
    pool: Pool,
    gate: WriteGate,
    key: PseudonymKey,
) -> anyhow::Result<()> {
    let periods = periods(settings);
    let job = Job::new_async(settings.retention_schedule.as_str(), move |_, _| {
        let (pool, gate, key) = (pool.clone(), gate.clone(), key.clone());
        Box::pin(async move {
            let ran = tokio::task::spawn_blocking(move || {
                retention::run(&pool, &gate, &key, periods, Utc::now(), false)
            })
            .await;
            match ran {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e.explain(), "the retention job failed; the next run will try again");
                }
                Err(e) => tracing::error!(error = %e, "the retention job did not complete"),
            }
        })
    })?;
    scheduler.add(job).await?;
    tracing::info!(
        schedule = settings.retention_schedule,
        "retention job scheduled"
    );
    Ok(())
}

/// `avip retention run [--dry-run] [--at T]`: the job once, now or as if at
/// `T`; with `--dry-run`, prints what it would anonymise and purge, and
/// writes nothing.
pub fn run(settings: &Settings, at: Option<String>, dry_run: bool) -> anyhow::Result<()> {
    let at = match at {
        None => Utc::now(),
        Some(text) => DateTime::parse_from_rfc3339(text.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| anyhow::anyhow!("--at {text:?} is not an RFC 3339 instant: {e}"))?,
    };
    let opened = crate::process::open(settings)?;
    let gate = WriteGate::for_backend(opened.backend);
    let (pool, key) = (opened.pool, opened.key);
    let report = retention::run(&pool, &gate, &key, periods(settings), at, dry_run)
        .map_err(|e| anyhow::anyhow!("{}", e.explain()))?;
    print(&report, at, dry_run);
    Ok(())
}

fn print(report: &Report, at: DateTime<Utc>, dry_run: bool) {
    let verb = if dry_run {
        "would anonymise"
    } else {
        "anonymised"
    };
    println!(
        "retention at {}: {verb} {} referral(s)",
        at.to_rfc3339(),
        report.anonymised.len()
    );
    for reference in &report.anonymised {
        println!("  {reference}");
    }
    let verb = if dry_run { "would delete" } else { "deleted" };
    println!(
        "access log: {verb} {} row(s) older than the retention",
        report.access_log_purged
    );
    println!(
        "imports: {verb} {} left uncommitted for a week",
        report.imports_forgotten
    );
}
