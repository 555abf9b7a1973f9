//! `weir sql` without `-e` or `-f`: the shell driven through standard input as a user
//! would: list tables, describe one, a statement over two lines, a mistake, and Ctrl-C
//! cancelling a long query while the shell goes on.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

fn demo_lake() -> tempfile::TempDir {
    let lake = tempfile::tempdir().unwrap();
    let made = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["demo", "--events", "20000", "--lake"])
        .arg(lake.path())
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
