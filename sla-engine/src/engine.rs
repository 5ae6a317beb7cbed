//! The engine as a process runs it: a sweep followed by delivery, on the
//! schedule of `AVIP_SLA_SCHEDULE` (tokio-cron-scheduler), inside `avip serve`
//! or alone in `avip sla run`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_cron_scheduler::{Job, JobScheduler};

use avip_db::{Pool, WriteGate};

use crate::dispatch::{self, Carriers, DispatchOptions, DispatchReport};
use crate::error::EngineError;
use crate::policy::ActivePolicy;
use crate::sweep::{self, SweepOptions, SweepReport};

/// Everything a sweep and a delivery need; cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    pool: Pool,
    gate: WriteGate,
    active: ActivePolicy,
    sweep: SweepOptions,
    carriers: Carriers,
    dispatch: DispatchOptions,
    /// A tick that finds the previous one still running skips its turn.
    busy: Arc<tokio::sync::Mutex<()>>,
    /// Set by [`stop`](Engine::stop): no tick starts, the running one ends
    /// after the e-mail it is sending.
    stopping: Arc<AtomicBool>,
    /// Told of every scheduled sweep: how long it took and what fired.
    observer: Option<SweepObserver>,
}

/// What [`Engine::observe_sweeps`] is given.
#[derive(Clone)]
struct SweepObserver(Arc<ObserveSweep>);

type ObserveSweep = dyn Fn(std::time::Duration, &SweepReport) + Send + Sync;

impl std::fmt::Debug for SweepObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SweepObserver")
    }
}

impl Engine {
    pub fn new(
        pool: Pool,
        gate: WriteGate,
        active: ActivePolicy,
        sweep: SweepOptions,
        carriers: Carriers,
        dispatch: DispatchOptions,
    ) -> Engine {
        Engine {
            pool,
            gate,
            active,
            sweep,
            carriers,
            dispatch,
            busy: Arc::default(),
            stopping: Arc::default(),
            observer: None,
        }
    }

    /// Tells `observe` of every scheduled sweep (for the metrics).
    pub fn observe_sweeps(
        mut self,
        observe: impl Fn(std::time::Duration, &SweepReport) + Send + Sync + 'static,
    ) -> Engine {
        self.observer = Some(SweepObserver(Arc::new(observe)));
        self
    }

    pub fn policy(&self) -> &ActivePolicy {
        &self.active
    }

    /// One sweep at `at` (a preview when `dry_run`).
    pub async fn sweep(
        &self,
        at: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<SweepReport, EngineError> {
        let gate = self.gate.clone();
        let active = self.active.clone();
        let options = self.sweep.clone();
        avip_db::blocking::run(&self.pool, move |conn| {
            sweep::sweep(conn, &gate, &active, &options, at, dry_run).map_err(EngineError::Db)
        })
        .await
    }

    /// Delivers what the outbox holds and is due.
    pub async fn deliver(&self) -> Result<DispatchReport, EngineError> {
        dispatch::dispatch(
            &self.pool,
            &self.gate,
            &self.carriers,
            &self.dispatch,
            &self.stopping,
        )
        .await
    }

    /// A sweep now, then delivery; `None` when the previous tick still runs.
    pub async fn tick(&self) -> Result<Option<(SweepReport, DispatchReport)>, EngineError> {
        let Ok(_running) = self.busy.try_lock() else {
            tracing::debug!("the previous SLA tick is still running; skipping this one");
            return Ok(None);
        };
        if self.stopping.load(Ordering::SeqCst) {
            return Ok(None);
        }
        let started = std::time::Instant::now();
        let swept = self.sweep(Utc::now(), false).await?;
        if let Some(SweepObserver(observe)) = &self.observer {
            observe(started.elapsed(), &swept);
        }
        if !swept.fired.is_empty() || swept.lost_races > 0 {
            tracing::info!(
                fired = swept.fired.len(),
                notifications = swept.notifications,
                lost_races = swept.lost_races,
                "SLA sweep"
            );
        }
        let delivered = self.deliver().await?;
        Ok(Some((swept, delivered)))
    }

    /// Stops this engine (every clone of it) for good: no tick starts, and
    /// the one running, if any, ends after the e-mail it is sending, having
    /// recorded what it sent and given back what it claimed but did not
    /// try. Waits for that, at most an SMTP time-out and a little more to
    /// write; returns whether the tick ended in time. Cut short, the e-mail
    /// would stay claimed for `AVIP_MAIL_LEASE`, then go again.
    pub async fn stop(&self) -> bool {
        self.stopping.store(true, Ordering::SeqCst);
        let wait = crate::mail::SMTP_TIMEOUT + Duration::from_secs(10);
        let ended = tokio::time::timeout(wait, self.busy.lock()).await.is_ok();
        if !ended {
            tracing::warn!(
                "the SLA tick did not end in time; its e-mails go again after their lease"
            );
        }
        ended
    }

    /// Runs [`tick`](Self::tick) on `schedule` (cron with seconds) until the
    /// returned scheduler is shut down.
    pub async fn start(&self, schedule: &str) -> Result<JobScheduler, EngineError> {
        let error =
            |e: tokio_cron_scheduler::JobSchedulerError| EngineError::Scheduler(e.to_string());
        let scheduler = JobScheduler::new().await.map_err(error)?;
        let engine = self.clone();
        let job = Job::new_async(schedule, move |_, _| {
            let engine = engine.clone();
            Box::pin(async move {
                if let Err(e) = engine.tick().await {
                    tracing::error!(error = %e, "SLA tick failed; the next one will try again");
                }
            })
        })
        .map_err(error)?;
        scheduler.add(job).await.map_err(error)?;
        scheduler.start().await.map_err(error)?;
        tracing::info!(
            schedule,
            policy_version = self.active.version,
            "SLA engine started"
        );
        Ok(scheduler)
    }
}
