//! What every process of the service does first, and the jobs it runs, in
//! one place: `avip serve` (through `avip_api::startup`), `avip sla run`
//! and `avip retention run` all [`open`] the database the same way, and the
//! two that run the jobs start them with [`Jobs::start`].

use anyhow::Context;
use avip_db::{Backend, Pool, WriteGate};
use avip_sla_engine::{ActivePolicy, Engine};
use tokio_cron_scheduler::JobScheduler;

use crate::exports::PseudonymKey;
use crate::settings::Settings;

/// The database as a process finds it once it is ready to work.
pub struct Opened {
    pub pool: Pool,
    pub backend: Backend,
    /// The SLA policy in force (a new version recomputes open deadlines
    /// before any request or sweep reads them).
    pub policy: ActivePolicy,
    /// The key that pseudonymises the exports.
    pub key: PseudonymKey,
}

/// Opens the pool (failing at once with the real reason), applies pending
/// migrations, activates the SLA policy and loads the pseudonymisation key.
/// Blocking: call it off the async threads.
pub fn open(settings: &Settings) -> anyhow::Result<Opened> {
    let (pool, backend) = avip_db::open_pool(&settings.database_url, settings.db_pool_size)?;
    let mut conn = pool
        .get()
        .context("cannot check out a database connection")?;
    let applied = avip_db::migrations::run_pending(&mut conn)
        .map_err(|e| anyhow::anyhow!("cannot apply migrations: {e}"))?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    let policy = avip_sla_engine::store::activate(&mut conn, &settings.sla, chrono::Utc::now())
        .context("cannot record the SLA policy")?;
    let key = PseudonymKey::load(&mut conn, settings.pseudonym_key.as_ref())
        .context("cannot read the pseudonymisation key")?;
    drop(conn);
    Ok(Opened {
        pool,
        backend,
        policy,
        key,
    })
}

/// The jobs of a process that runs the engine: the SLA sweeps and the
/// outbox's delivery on `AVIP_SLA_SCHEDULE`, the webhooks' deliveries, the
/// daily digests and the retention job.
pub struct Jobs {
    pub engine: Engine,
    scheduler: JobScheduler,
    webhooks: crate::webhooks::Running,
}

impl Jobs {
    pub async fn start(
        settings: &Settings,
        pool: &Pool,
        gate: &WriteGate,
        policy: ActivePolicy,
        key: PseudonymKey,
    ) -> anyhow::Result<Jobs> {
        let webhooks = crate::webhooks::spawn(settings, pool.clone(), gate.clone())?;
        let zone = policy.policy.holiday_zone;
        let engine = crate::sla::engine(settings, pool.clone(), gate.clone(), policy)?
            .observe_sweeps(crate::metrics::sweep);
        let scheduler = engine.start(&settings.sla_schedule).await?;
        crate::digests::schedule(&scheduler, settings, pool.clone(), gate.clone()).await?;
        crate::sla::schedule_planned_exits(
            &scheduler,
            settings,
            (pool.clone(), gate.clone()),
            zone,
        )
        .await?;
        crate::retention::schedule(&scheduler, settings, pool.clone(), gate.clone(), key).await?;
        Ok(Jobs {
            engine,
            scheduler,
            webhooks,
        })
    }

    /// Stops every job, letting the running ones finish.
    pub async fn stop(mut self) {
        self.webhooks.stop().await;
        self.engine.stop().await;
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!(error = %e, "the SLA scheduler did not stop cleanly");
        }
    }
}

/// Whether the database lacks migrations of this version (readiness); a
/// database that cannot say is unavailable.
pub fn migrations_pending(
    conn: &mut avip_db::DbConnection,
) -> Result<(Backend, bool), crate::domain::DomainError> {
    let pending = avip_db::migrations::has_pending(conn).map_err(|e| {
        tracing::warn!(error = %e, "readiness: cannot read the migrations table");
        crate::domain::DomainError::Unavailable
    })?;
    Ok((conn.backend(), pending))
}
