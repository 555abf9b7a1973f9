//! `weir backfill job.yaml --from 2026-11-01 --to 2026-11-07`: runs a bounded job once per
//! date with `${DATE}`, `${DATE_START}` and `${DATE_END}` set, each run replacing its
//! date's partition of the Delta tables it writes (see `weir_jobs::backfill`). Ctrl-C or
//! SIGTERM stops the running dates with a final checkpoint; the same command resumes.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use tokio::sync::watch;
use weir_jobs::backfill::{Backfill, BackfillProgress, DateProgress};

use crate::stop_signals::StopSignals;
use crate::terminal::aligned;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The job file (YAML); it must use `${DATE}` (or `${DATE_START}`, `${DATE_END}`).
    job: PathBuf,
    /// The first date (YYYY-MM-DD).
    #[arg(long)]
    from: String,
    /// The last date (YYYY-MM-DD), included.
    #[arg(long)]
    to: String,
    /// How many dates run at a time.
    #[arg(long, default_value_t = 1)]
    parallel: usize,
    /// Where each date's checkpoints go (default: `<the job's checkpoint location>/backfill`).
    #[arg(long)]
    checkpoints: Option<String>,
    /// The progress file (default: `progress-<from>_<to>.json` beside the checkpoints).
    #[arg(long)]
    progress: Option<PathBuf>,
    /// Run every date again, whatever the progress file says is done.
    #[arg(long)]
    fresh: bool,
    /// Print the final progress as JSON on standard output.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: BackfillArgs) -> Result<ExitCode> {
    let (file, text) = weir_jobs::yaml::read_job_file(&args.job)?;
    let env = Arc::new(|name: &str| std::env::var(name).ok());
    let mut backfill = Backfill::new(&text, &file, &args.from, &args.to, args.parallel, env)?;
    if let Some(checkpoints) = &args.checkpoints {
        backfill = backfill.with_checkpoints(checkpoints);
    }
    if let Some(progress) = &args.progress {
        backfill = backfill.with_progress_file(progress);
    }
    let kept = backfill.load_progress(args.fresh)?;
    let (done, ..) = kept.counts();
    eprintln!(
        "weir: backfill of job '{}', {} dates ({} to {}), {} at a time; {done} already done (progress in {})",
        backfill.job(),
        backfill.dates().len(),
        kept.from,
        kept.to,
        args.parallel,
        backfill.progress_file().display()
    );
    let (stop_tx, stop) = watch::channel(false);
    let mut signals = StopSignals::listen()?;
    tokio::spawn(async move {
        signals.next().await;
        eprintln!("weir: stopping the running dates with a final checkpoint (run the same command to resume)");
        let _ = stop_tx.send(true);
    });
    let report = Arc::new(|date: &str, progress: &DateProgress| {
        eprintln!("weir: {}", progress.describe(date))
    });
    let progress = backfill
        .run(args.fresh, stop, report)
        .await
        .context("running the backfill")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&progress)?);
    } else {
        print!("{}", table(&progress));
    }
    let (done, failed, running, pending) = progress.counts();
    eprintln!(
        "weir: backfill of job '{}': {done} done, {failed} failed, {} not finished",
        progress.job,
        running + pending
    );
    Ok(if failed > 0 || running + pending > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The dates with their state, runs, restarts and error.
fn table(progress: &BackfillProgress) -> String {
    let rows: Vec<Vec<String>> = progress
        .dates
        .iter()
        .map(|(date, p)| {
            vec![
                date.clone(),
                p.state.name().to_string(),
                p.runs.to_string(),
                p.restarts.to_string(),
                p.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    aligned(&["date", "state", "runs", "restarts", "error"], &rows)
}
