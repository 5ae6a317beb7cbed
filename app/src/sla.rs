//! The SLA engine as the service runs it: built from the settings, started
//! inside `avip serve` (unless `--no-sla`) or alone by `avip sla run`, and
//! `avip sla sweep` for one sweep by hand or a preview.

use anyhow::Context;
use avip_db::{Pool, WriteGate};
use avip_sla_engine::dispatch::{Carriers, DispatchOptions};
use avip_sla_engine::mail::Mailer;
use avip_sla_engine::sms::{Brevo, SmsFiles, Texter};
use avip_sla_engine::sweep::{SweepOptions, SweepReport};
use avip_sla_engine::{ActivePolicy, Engine};
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;

use crate::settings::Settings;

/// SMTP when `AVIP_SMTP_URL` is set, else `.eml` files in `AVIP_MAIL_DIR`.
pub fn mailer(settings: &Settings) -> anyhow::Result<Mailer> {
    Ok(match &settings.smtp_url {
        Some(url) => Mailer::smtp(url.expose_secret(), &settings.mail_from)?,
        None => Mailer::file(&settings.mail_dir, &settings.mail_from)?,
    })
}

/// Brevo when the `AVIP_SMS_` settings are given, else `.sms` files in
/// `AVIP_MAIL_DIR`. Another provider is chosen here.
pub fn texter(settings: &Settings) -> anyhow::Result<Texter> {
    Ok(match &settings.sms {
        Some(sms) => Texter::new(
            Brevo::new(sms.url.as_str(), sms.api_key.expose_secret(), &sms.sender)
                .map_err(|e| anyhow::anyhow!("the SMS client cannot be built: {e}"))?,
        ),
        None => Texter::new(
            SmsFiles::new(&settings.mail_dir)
                .with_context(|| format!("cannot create {}", settings.mail_dir.display()))?,
        ),
    })
}

pub fn engine(
    settings: &Settings,
    pool: Pool,
    gate: WriteGate,
    active: ActivePolicy,
) -> anyhow::Result<Engine> {
    Ok(Engine::new(
        pool,
        gate,
        active,
        SweepOptions::new(settings.public_url.as_str(), settings.sla_digest),
        Carriers {
            mail: mailer(settings)?,
            sms: texter(settings)?,
        },
        DispatchOptions {
            lease: settings.mail_lease,
            retry_base: settings.mail_retry,
            retry_max: settings.mail_retry_max,
            ..DispatchOptions::default()
        },
    ))
}

/// `avip sla run`: the scheduler alone (with the retention job), until
/// SIGTERM or Ctrl-C.
pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let opened = {
            let settings = settings.clone();
            tokio::task::spawn_blocking(move || crate::process::open(&settings)).await??
        };
        let gate = WriteGate::for_backend(opened.backend);
        let jobs =
            crate::process::Jobs::start(settings, &opened.pool, &gate, opened.policy, opened.key)
                .await?;
        shutdown_signal().await;
        tracing::info!("stopping the SLA engine");
        jobs.stop().await;
        Ok(())
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `avip sla sweep [--at T] [--dry-run]`: one sweep now (then delivery), or
/// a preview of what would fire at `T`, which writes nothing.
pub fn sweep(settings: &Settings, at: Option<String>, dry_run: bool) -> anyhow::Result<()> {
    let at = match at {
        None => None,
        Some(_) if !dry_run => {
            anyhow::bail!("--at previews a sweep at another instant and requires --dry-run")
        }
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| anyhow::anyhow!("--at {text:?} is not an RFC 3339 instant: {e}"))?,
        ),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let settings_for_open = settings.clone();
        let (pool, gate, active) = if dry_run {
            tokio::task::spawn_blocking(move || preview_policy(&settings_for_open)).await??
        } else {
            tokio::task::spawn_blocking(move || {
                let opened = crate::process::open(&settings_for_open)?;
                let gate = WriteGate::for_backend(opened.backend);
                anyhow::Ok((opened.pool, gate, opened.policy))
            })
            .await??
        };
        let engine = engine(settings, pool.clone(), gate.clone(), active)?;
        let instant = at.unwrap_or_else(Utc::now);
        let report = engine.sweep(instant, dry_run).await?;
        print_report(&report, instant, engine.policy().version, dry_run);
        if !dry_run {
            let links = settings.public_url.to_string();
            let (exits, asked) = tokio::task::spawn_blocking(move || {
                crate::workflow::exports::ensure_sums(&pool, &gate, false)?;
                let exits = crate::workflow::exits::record_due(&pool, &gate, &links, instant)?;
                let asked = crate::workflow::outcomes::run_due(&pool, &gate, &links, instant)?;
                Ok::<_, crate::domain::DomainError>((exits.len(), asked))
            })
            .await??;
            println!("planned exits recorded: {exits}; outcome requests and reminders: {asked}");
            let delivered = engine.deliver().await?;
            println!(
                "delivery: {} sent, {} failed (kept in the outbox and retried)",
                delivered.sent, delivered.failed
            );
        }
        Ok(())
    })
}

/// A dry run writes nothing, not even a new policy version: it previews
/// with the settings' policy under the version it would get.
fn preview_policy(settings: &Settings) -> anyhow::Result<(Pool, WriteGate, ActivePolicy)> {
    let (pool, backend) = avip_db::open_pool(&settings.database_url, settings.db_pool_size)?;
    let mut conn = pool
        .get()
        .context("cannot check out a database connection")?;
    let pending = avip_db::migrations::has_pending(&mut conn)
        .map_err(|e| anyhow::anyhow!("cannot read the migrations: {e}"))?;
    if pending {
        anyhow::bail!("the database is not migrated: run `avip migrate` first");
    }
    let latest = avip_db::sla::latest_policy(&mut conn)?;
    let fingerprint = settings.sla.fingerprint();
    let version = match &latest {
        Some(l) if l.fingerprint == fingerprint => l.version,
        Some(l) => {
            eprintln!(
                "note: the settings' SLA policy is not active yet (active: version {}); \
                 open deadlines are recomputed when `avip serve` or `avip sla run` starts",
                l.version
            );
            l.version + 1
        }
        None => 1,
    };
    Ok((
        pool,
        WriteGate::for_backend(backend),
        ActivePolicy {
            version,
            policy: settings.sla.clone(),
        },
    ))
}

fn print_report(report: &SweepReport, at: DateTime<Utc>, version: i32, dry_run: bool) {
    let verb = if dry_run { "would fire" } else { "fired" };
    println!(
        "sweep at {} (policy version {version}): {} item(s) {verb}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        report.fired.len()
    );
    for f in &report.fired {
        let stage = f.stage.map_or(f.kind.as_str(), |s| s.as_str());
        let to = if f.recipients.is_empty() {
            "nobody (no coordinator, no escalation address)".to_owned()
        } else {
            f.recipients.join(", ")
        };
        println!(
            "  {stage:<18} {:<20} {:<28} due {}  -> {to}",
            f.reference,
            f.creche,
            f.due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
    }
    if !dry_run {
        println!(
            "{} e-mail(s) queued in the outbox{}",
            report.notifications,
            if report.lost_races > 0 {
                format!(
                    ", {} item(s) taken by another engine first",
                    report.lost_races
                )
            } else {
                String::new()
            }
        );
    }
}

/// Records the planned exits whose day has come, asks the referents the
/// parent's situation 3 and 6 months after the exit, and does the
/// territory's work (offers that end, families waiting, freed places
/// matched: `workflow::territory`), on `AVIP_SLA_SCHEDULE` beside the
/// sweeps (the e-mails leave with the next delivery); first, once after an
/// upgrade, adds the referrals up for the indicators.
pub async fn schedule_planned_exits(
    scheduler: &tokio_cron_scheduler::JobScheduler,
    settings: &Settings,
    (pool, gate): (Pool, WriteGate),
    zone: avip_sla_engine::policy::HolidayZone,
) -> anyhow::Result<()> {
    let rules = crate::workflow::territory::Rules {
        public_url: settings
            .public_url
            .as_str()
            .trim_end_matches('/')
            .to_owned(),
        waiting_review: settings.waiting_review,
        zone,
    };
    let job = tokio_cron_scheduler::Job::new_async(settings.sla_schedule.as_str(), move |_, _| {
        let (pool, gate, rules) = (pool.clone(), gate.clone(), rules.clone());
        Box::pin(async move {
            let ran = tokio::task::spawn_blocking(move || {
                let now = Utc::now();
                let links = &rules.public_url;
                crate::workflow::exports::ensure_sums(&pool, &gate, false)?;
                let exits = crate::workflow::exits::record_due(&pool, &gate, links, now)?;
                let asked = crate::workflow::outcomes::run_due(&pool, &gate, links, now)?;
                let territory = crate::workflow::territory::run_due(&pool, &gate, &rules, now)?;
                let reminded = crate::workflow::meetings::run_due(&pool, &gate, now)?;
                Ok::<_, crate::domain::DomainError>((exits.len(), (asked, reminded), territory))
            })
            .await;
            match ran {
                Ok(Ok((exits, (asked, reminded), territory)))
                    if exits + asked + reminded > 0 || territory.any() =>
                {
                    tracing::info!(
                        exits,
                        asked,
                        reminded,
                        ?territory,
                        "planned exits recorded, outcomes asked, meetings reminded, the territory's work done"
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "the scheduled work on referrals failed; the next run will try again");
                }
                Err(e) => {
                    tracing::error!(error = %e, "the scheduled work on referrals did not complete")
                }
            }
        })
    })?;
    scheduler.add(job).await?;
    Ok(())
}
