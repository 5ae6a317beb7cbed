//! `avip`: the service and its command line.

use std::process::ExitCode;

use anyhow::Context;
use avip_api::telemetry;
use avip_api::{Application, Settings};
use clap::{Parser, Subcommand};

/// mimalloc, not glibc's malloc: each password check takes argon2's 19 MiB
/// of blocks, and glibc kept what its arenas had grown to (one per thread
/// of the blocking pool), so that a flood of sign-ins left hundreds of
/// megabytes resident. mimalloc gives freed pages back to the system by
/// itself; no environment setting is needed (BENCHMARKS.md, "memory").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "avip",
    version,
    about = "AVIP referral tracking: the service and its administration"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the API and run the SLA engine
    /// (the default command).
    Serve {
        /// Serve the API only; run the SLA engine elsewhere (`avip sla run`).
        #[arg(long)]
        no_sla: bool,
    },
    /// The SLA engine: deadlines, escalation e-mails, the outbox.
    Sla {
        #[command(subcommand)]
        command: SlaCommand,
    },
    /// Data protection: anonymise the families of referrals closed for longer
    /// than AVIP_RETENTION, and purge the access log (also daily, on
    /// AVIP_RETENTION_SCHEDULE, where the SLA engine runs).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// The indicators' daily sums.
    Indicators {
        #[command(subcommand)]
        command: IndicatorsCommand,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Copy the SQLite database into FILE while the service runs (a
    /// consistent snapshot, then an integrity check of the copy). On
    /// PostgreSQL, prints the pg_dump command to run instead and exits 2.
    Backup {
        /// Where to write the copy; an existing file is never overwritten.
        file: std::path::PathBuf,
    },
    /// Print the OpenAPI document (`avip openapi > openapi/openapi.json`).
    Openapi,
    /// Administration: bootstrap, organisations, crèches, people, API clients, tokens.
    Admin {
        #[command(subcommand)]
        command: Box<avip_api::admin::AdminCommand>,
    },
    /// Fill an empty database with a demo territory in the Var; prints the
    /// logins and example curl commands.
    Demo,
}

#[derive(Subcommand)]
enum SlaCommand {
    /// Run the SLA scheduler alone (sweeps and delivery on AVIP_SLA_SCHEDULE)
    /// until SIGTERM or Ctrl-C.
    Run,
    /// One sweep now, then delivery; prints what fired. With --dry-run,
    /// prints what would fire and writes nothing.
    Sweep {
        /// Preview the sweep at this instant (RFC 3339); requires --dry-run.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// Write nothing, send nothing: print what would fire.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum IndicatorsCommand {
    /// Add every referral up again from scratch, in one transaction (the
    /// engine does it by itself once after the upgrade that brought the
    /// sums); prints how many were counted.
    Rebuild,
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Run the job once now; prints the references anonymised.
    Run {
        /// Run as if at this instant (RFC 3339).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
        /// Write nothing: print what would be anonymised and purged.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("avip: cannot read .env: {e}");
        return ExitCode::from(2);
    }
    let command = cli.command.unwrap_or(Command::Serve { no_sla: false });
    if let Command::Sla {
        command: SlaCommand::Sweep {
            at: Some(_),
            dry_run: false,
        },
    } = command
    {
        eprintln!("avip: --at previews a sweep at another instant and requires --dry-run");
        return ExitCode::from(2);
    }
    if let Command::Openapi = command {
        print!("{}", avip_api::http::openapi::document_json());
        return ExitCode::SUCCESS;
    }
    telemetry::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("avip: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match command {
        Command::Serve { no_sla } => serve(settings, !no_sla),
        Command::Sla { command } => match command {
            SlaCommand::Run => avip_app::sla::run(&settings),
            SlaCommand::Sweep { at, dry_run } => avip_app::sla::sweep(&settings, at, dry_run),
        },
        Command::Retention {
            command: RetentionCommand::Run { at, dry_run },
        } => avip_app::retention::run(&settings, at, dry_run),
        Command::Indicators {
            command: IndicatorsCommand::Rebuild,
        } => rebuild_indicators(&settings),
        Command::Migrate => migrate(&settings),
        Command::Backup { file } => return backup(&settings, &file),
        Command::Admin { command } => avip_api::admin::run(&settings, *command),
        Command::Demo => avip_api::demo::run(&settings),
        Command::Openapi => unreachable!("handled above"),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("avip: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// `avip backup FILE`: 0 when the copy is written and sound, 2 on
/// PostgreSQL (nothing copied: the pg_dump command is printed), 1 on failure.
fn backup(settings: &Settings, file: &std::path::Path) -> ExitCode {
    use avip_db::backup::Backup;
    match avip_db::backup::backup(&settings.database_url, file) {
        Ok(Backup::Written {
            path,
            bytes,
            referrals,
        }) => {
            println!(
                "backup written: {} ({bytes} bytes, {referrals} referrals), integrity check ok",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Ok(Backup::UsePgDump { command }) => {
            eprintln!(
                "avip: the database is PostgreSQL: back it up with pg_dump (the password from \
                 PGPASSWORD or ~/.pgpass); nothing was copied"
            );
            println!("{command}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("avip: backup failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings, sla_engine: bool) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let options = avip_api::ServerOptions {
            sla_engine,
            ..Default::default()
        };
        let app = Application::build_with(settings, options).await?;
        actix_web::rt::spawn(exit_if_stuck_after_a_stop_signal());
        app.run_until_stopped()
            .await
            .context("the server stopped with an error")?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// The server stops gracefully on SIGTERM or Ctrl-C, giving requests in
/// flight `SHUTDOWN_GRACE`; should any work still hold the process a few
/// seconds after that, the process exits anyway: a stop asked for is never
/// ignored.
async fn exit_if_stuck_after_a_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    let limit = avip_api::startup::SHUTDOWN_GRACE + std::time::Duration::from_secs(5);
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        tracing::warn!(
            seconds = limit.as_secs(),
            "work still running after the stop's grace period; exiting"
        );
        std::process::exit(0);
    });
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let mut conn = avip_db::connect(&settings.database_url)?;
    let applied = avip_db::migrations::run_pending(&mut conn)
        .map_err(|e| anyhow::anyhow!("cannot apply migrations: {e}"))?;
    if applied.is_empty() {
        println!("the database is up to date");
    } else {
        for version in applied {
            println!("applied {version}");
        }
    }
    Ok(())
}

/// `avip indicators rebuild`: migrations first, then every referral added
/// up in one transaction (writes wait meanwhile, then add themselves).
fn rebuild_indicators(settings: &Settings) -> anyhow::Result<()> {
    let mut conn = avip_db::connect(&settings.database_url)?;
    avip_db::migrations::run_pending(&mut conn)
        .map_err(|e| anyhow::anyhow!("cannot apply migrations: {e}"))?;
    let counted =
        avip_db::tallies::rebuild(&mut conn, avip_db::model::to_db_time(chrono::Utc::now()))
            .context("cannot add the referrals up")?;
    println!("the indicators' sums hold {counted} referrals");
    Ok(())
}

/// The error chain on one line: drivers (libpq) write multi-line messages.
fn one_line(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
