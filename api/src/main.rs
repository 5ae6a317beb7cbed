//! `avip`: the service and its command line.

use std::process::ExitCode;

use anyhow::Context;
use avip_api::{Application, Settings, telemetry};
use clap::{Parser, Subcommand};

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
    /// Apply pending migrations, then serve the API (the default command).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("avip: cannot read .env: {e}");
        return ExitCode::from(2);
    }
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", avip_api::openapi::document_json());
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
        Command::Serve => serve(settings),
        Command::Migrate => migrate(&settings),
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

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped()
            .await
            .context("the server stopped with an error")?;
        tracing::info!("stopped");
        Ok(())
    })
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

/// The error chain on one line: drivers (libpq) write multi-line messages.
fn one_line(error: &anyhow::Error) -> String {
    let text = format!("{error:#}");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
