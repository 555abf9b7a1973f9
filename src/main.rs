//! The `weir` command line.

mod backfill;
mod client;
mod compact;
mod demo;
mod job_summary;
mod lake_table;
mod live_status;
mod log;
mod quality;
mod run;
mod run_metrics;
mod server;
mod sql;
mod sql_input;
mod sql_shell;
mod stop_signals;
mod terminal;
mod vacuum;
mod validate;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// weir: a stream-processing data platform.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the built-in demo job: generated bids through keyed event-time windows.
    Demo(demo::DemoArgs),
    /// Run a job file (YAML) in the foreground, resuming from its newest checkpoint.
    /// Ctrl-C or SIGTERM stops it with a final checkpoint (exit 0); a second one cancels
    /// it at once (exit 130).
    Run(run::RunArgs),
    /// Run SQL over the lake's Delta tables, read-only: queries, EXPLAIN, SHOW, DESCRIBE,
    /// time travel with table_version / table_timestamp, history with table_history.
    Sql(sql::SqlArgs),
    /// Run a bounded job once per date from --from to --to with ${DATE} set, each run
    /// replacing its date's partition of the Delta tables it writes; resumable.
    Backfill(backfill::BackfillArgs),
    /// Compact a lake table: merge small files into files of a target size, or cluster
    /// the rows on up to four columns so filters skip most files, in one commit.
    Compact(compact::CompactArgs),
    /// Delete a lake table's data files that no version within the retention needs
    /// (removed longer ago than --retain, or never committed and older than the table's
    /// retention).
    Vacuum(vacuum::VacuumArgs),
    /// Data-quality rules over lake tables: `weir quality check` judges a table by a
    /// rules file and records the verdicts in the lake's `_quality` table.
    #[command(subcommand)]
    Quality(quality::QualityCommand),
    /// Check a job file without running it: every mistake at its file:line:column
    /// (exit 1), or the graph it would run (exit 0). Contacts no Kafka broker.
    Validate(validate::ValidateArgs),
    /// Host jobs of every kind behind a REST API (/api/v1), with SQL over the lake and
    /// Prometheus metrics (/metrics); jobs resume when the server starts again.
    Server(server::ServerArgs),
    /// Submit a job file to a running server, which validates, stores and starts it.
    Submit(client::SubmitArgs),
    /// List a server's jobs with their status, rate and last checkpoint.
    Jobs(client::JobsArgs),
    /// Show one of a server's jobs: its nodes with their counters, and its history.
    Job(client::JobArgs),
    /// Stop one of a server's jobs with a final checkpoint.
    Stop(client::StopArgs),
    /// Cancel one of a server's jobs at once (it resumes from its last checkpoint).
    Cancel(client::JobArgs),
    /// Start one of a server's stopped, cancelled, failed or finished jobs again.
    Resume(client::JobArgs),
}

fn main() -> ExitCode {
    let repeated = log::init();
    let cli = Cli::parse();
    let outcome = run(cli.command);
    for line in repeated.report() {
        eprintln!("weir: {line}");
    }
    match outcome {
        Ok(code) => code,
        Err(error) => {
            // The chain of causes, one line each; no backtrace: these are the user's errors.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Demo(args) => runtime
            .block_on(demo::run(args))
            .map(|()| ExitCode::SUCCESS),
        Command::Run(args) => runtime.block_on(run::run(args)),
        Command::Sql(args) => runtime.block_on(sql::run(args)).map(|()| ExitCode::SUCCESS),
        Command::Validate(args) => runtime.block_on(validate::run(args)),
        Command::Backfill(args) => runtime.block_on(backfill::run(args)),
        Command::Vacuum(args) => runtime
            .block_on(vacuum::run(args))
            .map(|()| ExitCode::SUCCESS),
        Command::Compact(args) => runtime
            .block_on(compact::run(args))
            .map(|()| ExitCode::SUCCESS),
        Command::Quality(command) => runtime.block_on(quality::run(command)),
        Command::Server(args) => runtime
            .block_on(server::run(args))
            .map(|()| ExitCode::SUCCESS),
        Command::Submit(args) => runtime.block_on(client::submit(args)),
        Command::Jobs(args) => runtime.block_on(client::jobs(args)),
        Command::Job(args) => runtime.block_on(client::job(args)),
        Command::Stop(args) => runtime.block_on(client::stop(args)),
        Command::Cancel(args) => runtime.block_on(client::act(args, "cancel")),
        Command::Resume(args) => runtime.block_on(client::act(args, "resume")),
    }
}
