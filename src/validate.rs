//! `weir validate job.yaml`: checks a job file without running it, printing every mistake
//! at its `file:line:column` (exit 1) or the graph the job would run (exit 0).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The job file (YAML).
    job: PathBuf,
}

pub async fn run(args: ValidateArgs) -> Result<ExitCode> {
    match weir_jobs::validate_file(&args.job).await {
        Ok(outline) => {
            print!("{outline}");
            Ok(ExitCode::SUCCESS)
        }
        Err(mistakes) => {
            for mistake in &mistakes {
                eprintln!("{mistake}");
            }
            eprintln!(
                "{}: {} mistake{}",
                args.job.display(),
                mistakes.len(),
                if mistakes.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The mistakes checking the job file at `path` finds, one per line, each at its
/// `file:line:column`; `None` when it finds none (a broker that cannot be reached is no
/// mistake in the file). `weir run` gives these in place of a build error.
pub async fn placed(path: &Path) -> Option<String> {
    match weir_jobs::validate_file(path).await {
        Err(mistakes) if !mistakes.is_empty() => Some(
            mistakes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        _ => None,
    }
}
