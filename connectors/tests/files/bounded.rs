//! Bounded reads of line files: every row exactly once at any parallelism, globs, and bad
//! lines as dead letters naming `path:line` and the reason.

use weir_connectors::files::FileSourceConfig;
use weir_connectors::format::DecodeErrorPolicy;

use super::common::{append, config, line, lines_of, rows, run_bounded, seqs};

/// Three JSON-lines files in one directory; the last line of `c` has no newline.
fn three_files() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("a.jsonl", 0..100),
        ("b.jsonl", 100..300),
        ("c.jsonl", 300..350),
    ];
    let mut expected = Vec::new();
    for (name, seqs) in files {
        let path = dir.path().join(name);
        let mut text = lines_of(seqs.clone());
        if name == "c.jsonl" {
            text.pop();
        }
        append(&path, &text);
        for (i, seq) in seqs.enumerate() {
            let shown = path.display();
            expected.push(format!("{seq}|line {seq}|{shown}|{}", i + 1));
        }
    }
    expected.sort();
    (dir, expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_is_read_exactly_once_at_any_parallelism() {
    let (dir, expected) = three_files();
    for parallelism in [1, 3] {
        let config = FileSourceConfig {
            metadata_columns: true,
            batch_size: 64,
            ..config(dir.path())
        };
        let (batches, letters) = run_bounded(config, parallelism).await.unwrap();
        assert_eq!(rows(&batches), expected, "parallelism {parallelism}");
        assert!(letters.is_empty(), "{letters:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globs_pick_the_matching_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("2026/01")).unwrap();
    append(&dir.path().join("top.jsonl"), &lines_of(0..3));
    append(&dir.path().join("2026/01/deep.jsonl"), &lines_of(3..5));
    append(&dir.path().join("2026/01/skip.log"), &lines_of(5..9));
    append(&dir.path().join(".hidden.jsonl"), &lines_of(9..10));

    let all = format!("{}/**/*.jsonl", dir.path().display());
    let (batches, _) = run_bounded(config(all.as_ref()), 2).await.unwrap();
    assert_eq!(seqs(&batches), vec![0, 1, 2, 3, 4]);

    let one_level = format!("{}/*/*/*.log", dir.path().display());
    let (batches, _) = run_bounded(config(one_level.as_ref()), 1).await.unwrap();
    assert_eq!(seqs(&batches), vec![5, 6, 7, 8]);

    let none = format!("{}/*.csv", dir.path().display());
    let error = run_bounded(config(none.as_ref()), 1).await.unwrap_err();
    assert!(
        error.to_string().contains("no file matches `path`"),
        "{error}"
    );
}

/// A file with a blank line, invalid UTF-8, a line over the maximum (200 bytes against 100),
/// a CRLF line and a truncated last line.
fn bad_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    let long = format!("{{\"seq\":4,\"text\":\"{}\"}}", "x".repeat(200));
    let mut text = Vec::new();
    text.extend_from_slice(line(1).as_bytes());
    text.extend_from_slice(b"\n");
    text.extend_from_slice(b"\xff\xfe{\"seq\":3}\n");
    text.extend_from_slice(format!("{long}\n").as_bytes());
    text.extend_from_slice(b"{\"seq\":5,\"text\":\"line 5\"}\r\n");
    text.extend_from_slice(b"{\"seq\":6,\"te");
    std::fs::write(&path, text).unwrap();
    (dir, path.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_become_dead_letters_with_path_line_and_reason() {
    let (dir, path) = bad_file();
    let config = FileSourceConfig {
        max_record_bytes: 100,
        metadata_columns: true,
        ..config(dir.path())
    };
    let (batches, letters) = run_bounded(config, 1).await.unwrap();
    assert_eq!(
        rows(&batches),
        [format!("1|line 1|{path}|1"), format!("5|line 5|{path}|5")]
    );
    let found: Vec<(&str, &str)> = letters
        .iter()
        .map(|(origin, reason, _)| (origin.as_str(), reason.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (format!("{path}:2").as_str(), "empty record"),
            (format!("{path}:3").as_str(), "invalid UTF-8 at byte 0"),
            (
                format!("{path}:4").as_str(),
                "line of 219 bytes is longer than the maximum of 100 bytes"
            ),
            (
                format!("{path}:6").as_str(),
                "invalid JSON: Truncated record whilst reading string"
            ),
        ]
    );
    // Refused lines keep their bytes (cut to the dead letter's limit).
    assert_eq!(letters[1].2, b"\xff\xfe{\"seq\":3}");
    assert_eq!(letters[2].2.len(), 219);
    assert_eq!(letters[3].2, b"{\"seq\":6,\"te");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decode_error_policy_drops_or_fails() {
    let (dir, path) = bad_file();
    let dropping = FileSourceConfig {
        max_record_bytes: 100,
        on_decode_error: DecodeErrorPolicy::Drop,
        ..config(dir.path())
    };
    let (batches, letters) = run_bounded(dropping, 1).await.unwrap();
    assert_eq!(seqs(&batches), vec![1, 5]);
    assert!(letters.is_empty());

    let failing = FileSourceConfig {
        on_decode_error: DecodeErrorPolicy::Fail,
        ..config(dir.path())
    };
    let error = run_bounded(failing, 1).await.unwrap_err().to_string();
    assert!(
        error.contains(&format!("cannot decode {path}:2: empty record")),
        "{error}"
    );
}

/// A line longer than both the maximum (1 MiB by default) and a read (4 MiB) after a good
/// line in the same read: a dead letter keeping its first 64 KiB, the lines around it rows;
/// also when it is the last line and has no newline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_line_after_a_good_one_is_a_dead_letter() {
    let long = "x".repeat(5 * 1024 * 1024);
    for (tail, expected) in [(line(3), vec![1, 3]), (String::new(), vec![1])] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.jsonl");
        let newline = if tail.is_empty() { "" } else { "\n" };
        append(&path, &format!("{}{long}{newline}{tail}", line(1)));
        let (batches, letters) = run_bounded(config(dir.path()), 1).await.unwrap();
        assert_eq!(seqs(&batches), expected);
        assert_eq!(letters.len(), 1);
        let (origin, reason, raw) = &letters[0];
        assert_eq!(origin, &format!("{}:2", path.display()));
        assert_eq!(
            reason,
            "line of 5242880 bytes is longer than the maximum of 1048576 bytes"
        );
        assert_eq!(raw, &vec![b'x'; 64 * 1024]);
    }
}
