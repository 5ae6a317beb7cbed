//! The daily digest job: at `AVIP_DIGEST_SCHEDULE` (Paris time) in the SLA
//! engine's scheduler, everything held for people who chose
//! `daily_digest` is gathered into one e-mail each (see
//! `avip_sla_engine::daily`); the dispatcher then sends them.

use avip_db::{Pool, WriteGate};
use chrono::Utc;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::settings::Settings;

/// Adds the daily job to a running scheduler.
pub async fn schedule(
    scheduler: &JobScheduler,
    settings: &Settings,
    pool: Pool,
    gate: WriteGate,
) -> anyhow::Result<()> {
    let job = Job::new_async_tz(
        settings.digest_schedule.as_str(),
        chrono_tz::Europe::Paris,
        move |_, _| {
            let (pool, gate) = (pool.clone(), gate.clone());
            Box::pin(async move {
                let gathered = avip_db::blocking::write(&pool, &gate, |conn| {
                    avip_db::write_transaction(conn, |conn| {
                        avip_sla_engine::daily::gather(conn, Utc::now())
                    })
                })
                .await;
                match gathered {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(emails = n, "daily digests written to the outbox"),
                    Err(e) => {
                        tracing::error!(error = %e, "the daily digests could not be gathered; the next run will");
                    }
                }
            })
        },
    )?;
    scheduler.add(job).await?;
    tracing::info!(
        schedule = settings.digest_schedule,
        "daily digests scheduled (Paris time)"
    );
    Ok(())
}
