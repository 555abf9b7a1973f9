//! `weir sql`'s limits hold for the whole statement, printing included: results are
//! written as they are computed (never held whole), the time limit ends a statement whose
//! output is still being written, or cannot be written, the memory limit's error says how
//! to raise it, `--max-rows` cuts a result short, and settings stay in their ranges.
//! No assertion on time: each statement ends with its limit's error or its rows.

use std::io::Read;
use std::process::{Command, Stdio};

/// The queries need no tables: an empty lake.
fn empty_lake() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Runs `weir sql ARGS` and reads all it writes: (stdout, stderr, success).
fn weir(lake: &std::path::Path, args: &[&str]) -> (String, String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_weir"))
        .arg("sql")
        .arg("--lake")
        .arg(lake)
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.success(),
    )
}

/// A cross join of ten billion rows: without streaming, nothing would be printed before
/// the time limit.
const CROSS_JOIN: &str =
    "SELECT a.value AS a, b.value AS b FROM generate_series(1, 100000) a, generate_series(1, 100000) b";

#[test]
fn the_time_limit_ends_a_statement_while_its_rows_are_written() {
    let lake = empty_lake();
    let (out, err, ok) = weir(
        lake.path(),
        &["--format", "csv", "--timeout", "1s", "-e", CROSS_JOIN],
    );
    assert!(!ok);
    assert_eq!(
        err.trim_end(),
        "error: query cancelled after 1s: over the time limit (raise it with --timeout)"
    );
    // Rows were already out (in the order the join's partitions produced them).
    assert!(out.starts_with("a,b\n"), "{}", &out[..100.min(out.len())]);
    // The last line may have been cut by the cancellation.
    let lines: Vec<&str> = out.lines().skip(1).collect();
    let complete = &lines[..lines.len().saturating_sub(1)];
    assert!(complete.len() > 1000, "{} lines", complete.len());
    assert!(
        complete
            .iter()
            .all(|line| line.split(',').all(|v| v.parse::<u64>().is_ok())),
        "{}",
        &out[..100.min(out.len())]
    );
}

#[test]
fn the_time_limit_ends_a_statement_whose_output_does_not_drain() {
    let lake = empty_lake();
    // Nobody reads stdout until the command has ended: once the pipe is full, writing
    // blocks, and the time limit still ends the statement.
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["sql", "--format", "csv", "--timeout", "1s", "--lake"])
        .arg(lake.path())
        .args(["-e", CROSS_JOIN])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(!status.success());
    assert_eq!(
        err.trim_end(),
        "error: query cancelled after 1s: over the time limit (raise it with --timeout)"
    );
    assert!(out.starts_with(b"a,b\n"));
}

#[test]
fn the_memory_limit_error_says_how_to_raise_it() {
    let lake = empty_lake();
    // Sorting twenty million numbers needs about 160 MB.
    let (out, err, ok) = weir(
        lake.path(),
        &[
            "--memory-limit",
            "64MiB",
            "-e",
            "SELECT value FROM generate_series(1, 20000000) ORDER BY value DESC LIMIT 20000000",
        ],
    );
    assert!(!ok);
    assert_eq!(out, "");
    assert_eq!(
        err.trim_end(),
        "error: the statement needs more than the memory limit of 64 MiB; raise it with --memory-limit"
    );
}

/// How much memory `weir` may take beyond `--memory-limit`: the program itself (a debug
/// build), its threads, and the batches on their way to the output.
const OVERHEAD_MIB: u64 = 96;

/// Runs `weir ARGS` under Python, which reports its child's peak resident memory (the
/// largest `ru_maxrss` of `RUSAGE_CHILDREN`, its only child being weir) on the last line
/// of stderr; weir's stdout is read and dropped as it comes. Returns (stdout's first
/// line, weir's stderr, the peak in KiB, success).
fn peak_memory(args: &[&str]) -> (String, String, u64, bool) {
    const WRAPPER: &str = r#"
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:])
sys.stderr.write("\n%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(done.returncode)
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(WRAPPER)
        .arg(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut first = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        while let Ok(n) = stdout.read(&mut chunk) {
            if n == 0 {
                break;
            }
            if first.len() < 64 {
                first.extend_from_slice(&chunk[..n.min(64)]);
            }
        }
        String::from_utf8_lossy(&first)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    });
    let out = child.wait_with_output().unwrap();
    let first = reader.join().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    let (weir_err, peak) = err.trim_end().rsplit_once('\n').unwrap();
    (
        first,
        weir_err.trim_end().to_string(),
        peak.parse().unwrap(),
        out.status.success(),
    )
}

#[test]
fn a_result_streams_within_the_memory_limit() {
    let lake = empty_lake();
    let lake = lake.path().to_str().unwrap();
    // A billion rows, written as they come until the time limit: collected, they would
    // have taken gigabytes within that time.
    let (first, err, peak_kib, ok) = peak_memory(&[
        "sql",
        "--lake",
        lake,
        "--format",
        "csv",
        "--memory-limit",
        "64MiB",
        "--timeout",
        "3s",
        "-e",
        "SELECT value FROM generate_series(1, 1000000000)",
    ]);
    assert!(!ok);
    assert_eq!(first, "value");
    assert_eq!(
        err,
        "error: query cancelled after 3s: over the time limit (raise it with --timeout)"
    );
    assert!(
        peak_kib < (64 + OVERHEAD_MIB) * 1024,
        "peak {} MiB, over the 64 MiB limit + {OVERHEAD_MIB} MiB",
        peak_kib / 1024
    );
}

#[test]
fn max_rows_cuts_a_result_short_and_says_so() {
    let lake = empty_lake();
    // The series would run for hours: the query stops once the rows are written.
    let (out, err, ok) = weir(
        lake.path(),
        &[
            "--max-rows",
            "3",
            "-e",
            "SELECT 'row' AS v FROM generate_series(1, 1000000000000)",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "+-----+\n| v   |\n+-----+\n| row |\n| row |\n| row |\n+-----+\n"
    );
    let err: Vec<&str> = err.lines().collect();
    assert_eq!(err[0], "(showing the first 3 rows; --max-rows 0 for all)");
    assert!(err[1].starts_with("3 rows in "), "{}", err[1]);
    // A result of exactly that many rows is whole: no note.
    let (out, err, ok) = weir(
        lake.path(),
        &[
            "--max-rows",
            "3",
            "--format",
            "csv",
            "-e",
            "SELECT value FROM generate_series(1, 3)",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "value\n1\n2\n3\n");
    assert!(err.starts_with("3 rows in "), "{err}");
}

#[test]
fn settings_are_kept_in_their_ranges() {
    let lake = empty_lake();
    let top_ten = "SELECT value FROM generate_series(1, 100000) ORDER BY value DESC LIMIT 2";
    let (out, err, ok) = weir(
        lake.path(),
        &[
            "--format",
            "csv",
            "-e",
            &format!("SET datafusion.execution.batch_size = 99999999999; {top_ten}"),
        ],
    );
    assert!(!ok);
    assert_eq!(out, "");
    assert_eq!(
        err.trim_end(),
        "error: SET datafusion.execution.batch_size = 99999999999: \
         datafusion.execution.batch_size must be a whole number from 1 to 1048576"
    );
    // The largest batch allowed runs the same query.
    let (out, err, ok) = weir(
        lake.path(),
        &[
            "--format",
            "csv",
            "-e",
            &format!("SET datafusion.execution.batch_size = 1048576; {top_ten}"),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "value\n100000\n99999\n");
}
