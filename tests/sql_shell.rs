//! `weir sql` without `-e` or `-f`: the shell driven through standard input as a user
//! would: list tables, describe one, a statement over two lines, a mistake, and Ctrl-C
//! cancelling a long query while the shell goes on. On a terminal (a pseudo-terminal
//! driven by Python's `pty`): line editing and a history recalled in the next session.
//! `sql_cli/limits.rs`: the time and memory limits hold while results are written.

#[path = "sql_cli/limits.rs"]
mod limits;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A lake holding `bids` and `bid_windows`, made by the example job bids_to_lake.yaml.
fn demo_lake() -> tempfile::TempDir {
    let lake = tempfile::tempdir().unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["run", "--progress", "0s", "examples/jobs/bids_to_lake.yaml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LAKE", lake.path())
        .env("EVENTS", "20000")
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    lake
}

#[test]
fn the_shell_lists_describes_queries_and_survives_mistakes_and_ctrl_c() {
    let lake = demo_lake();
    let mut shell = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["sql", "--format", "csv", "--lake"])
        .arg(lake.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = shell.stdin.take().unwrap();
    input
        .write_all(
            b"\\d\n\\d bids\nSELECT count(*) AS n\nFROM bids;\nSELECT nope FROM bids;\n\\x\n",
        )
        .unwrap();
    // A query that would run for minutes, cancelled with Ctrl-C.
    input
        .write_all(
            b"SELECT count(*) FROM generate_series(1, 50000000000) AS t(x) WHERE x % 7 = 3;\n",
        )
        .unwrap();
    input.flush().unwrap();
    // Wait until the shell has answered everything before the long query (its stderr
    // shows the prompt after the `\x` error), then give the query a moment to start.
    let errors = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut stderr_pipe = shell.stderr.take().unwrap();
    let collected = errors.clone();
    let reader = std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut stderr_pipe, &mut chunk) {
            if n == 0 {
                break;
            }
            collected.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let seen = String::from_utf8_lossy(&errors.lock().unwrap()).to_string();
        if seen.contains("\\q quits\nweir> ") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{seen}");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let interrupted = Command::new("kill")
        .args(["-INT", &shell.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    input.write_all(b"SELECT 1 AS one;\n\\q\n").unwrap();
    drop(input);
    let output = shell.wait_with_output().unwrap();
    reader.join().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&errors.lock().unwrap()).to_string();
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(
        stdout,
        "bid_windows\nbids\n\
         column_name,data_type,is_nullable\n\
         auction,Int64,NO\n\
         bidder,Int64,NO\n\
         price,Int64,NO\n\
         channel,\"Dictionary(UInt16, Utf8)\",NO\n\
         event_time,\"Timestamp(µs, \"\"UTC\"\")\",NO\n\
         n\n20000\n\
         one\n1\n",
        "{stderr}"
    );
    assert!(stderr.contains("2 tables"), "{stderr}");
    assert!(
        stderr.contains("error: Schema error: No field named nope."),
        "{stderr}"
    );
    assert!(stderr.contains("error: unknown command '\\x'"), "{stderr}");
    assert!(stderr.contains("query cancelled (Ctrl-C)"), "{stderr}");
}

/// Drives `weir sql` on a pseudo-terminal. Arguments: the weir binary, the lake, then one
/// per step `KEYS<tab>TEXT`: the keys to send (`\r` is Enter, `\x1b[A` the up arrow,
/// `\x1b[D` the left one, `\x7f` backspace, `\x03` Ctrl-C, `\x04` Ctrl-D, which ends) and
/// the text to wait for; after a statement's `row in`, the next prompt is awaited too, so
/// keys never arrive while a statement runs. Prints everything the terminal showed.
const PTY_DRIVER: &str = r#"
import os, pty, select, sys, time
weir, lake, steps = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execve(weir, [weir, "sql", "--format", "csv", "--lake", lake], dict(os.environ, TERM="xterm"))
seen = b""
def wait_for(token, after):
    global seen
    deadline = time.time() + 60
    while token not in seen[after:]:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
        if not ready:
            sys.exit("timed out waiting for %r; the terminal showed %r" % (token, seen))
        try:
            seen += os.read(fd, 4096)
        except OSError:
            sys.exit("the shell ended early; the terminal showed %r" % seen)
    return seen.index(token, after) + len(token)
wait_for(b"weir> ", 0)
for step in steps:
    keys, _, text = step.partition("\t")
    mark = len(seen)
    os.write(fd, keys.encode().decode("unicode_escape").encode())
    if keys == "\\x04":
        break
    at = wait_for(text.encode(), mark)
    if text == "row in":
        wait_for(b"weir> ", at)
_, status = os.waitpid(pid, 0)
try:
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        seen += chunk
except OSError:
    pass
sys.stdout.write(seen.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;

fn on_terminal(lake: &std::path::Path, history: &std::path::Path, steps: &[&str]) -> String {
    let output = Command::new("python3")
        .arg("-c")
        .arg(PTY_DRIVER)
        .arg(env!("CARGO_BIN_EXE_weir"))
        .arg(lake)
        .args(steps)
        .env("WEIR_SQL_HISTORY", history)
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{shown}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    shown
}

#[test]
fn on_a_terminal_lines_are_edited_and_history_is_kept_across_sessions() {
    let lake = tempfile::tempdir().unwrap();
    let history = lake.path().join("history");
    // Ctrl-C drops a half-typed statement; a statement over two lines; a typo fixed with
    // the left arrow and backspace before Enter.
    let first = on_terminal(
        lake.path(),
        &history,
        &[
            "SELECT 1 AS dropped\tdropped",
            "\\x03\tweir> ",
            "SELECT 40 + 2\\r\t  ... ",
            "AS answer;\\r\trow in",
            "SELECT 'ab' AS typx;\ttypx;",
            "\\x1b[D\\x7fo\\r\trow in",
            "\\x04",
        ],
    );
    assert!(first.contains("answer\r\n42\r\n"), "{first}");
    assert!(first.contains("typo\r\nab\r\n"), "{first}");
    assert!(!first.contains("dropped\r\n"), "{first}");
    assert_eq!(
        std::fs::read_to_string(&history)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>(),
        ["SELECT 40 + 2\\nAS answer;", "SELECT 'ab' AS typo;"],
    );
    // The next session recalls both statements with the up arrow.
    let second = on_terminal(
        lake.path(),
        &history,
        &["\\x1b[A\\r\trow in", "\\x1b[A\\x1b[A\\r\trow in", "\\x04"],
    );
    assert!(second.contains("typo\r\nab\r\n"), "{second}");
    assert!(second.contains("answer\r\n42\r\n"), "{second}");
}
