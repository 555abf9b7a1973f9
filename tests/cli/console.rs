//! The web console in a real headless browser (Debian's chromium over the DevTools
//! protocol) against a real `weir server`: the jobs page with a running job's moving rate,
//! a submitted job's mistake at its line, a job's graph, stop and resume from the page,
//! the SQL console's rows and its refusal of DDL, a table's history and quality timeline,
//! and the pages at phone width. Screenshots of each page are saved under
//! `target/tmp/console/`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::server::ServerProcess;
use super::support::browser::Browser;

fn shots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("console")
}

/// A bounded bids job into `lake/bids` whose gate judges each epoch (a warn rule that
/// fails, one that passes) and quarantines the most expensive bids.
fn gated_job(dir: &Path, lake: &Path) -> PathBuf {
    let path = dir.join("gated.yaml");
    std::fs::write(
        &path,
        format!(
            "name: gated\nparallelism: 2\ncheckpoints: {{interval: 200ms}}\n\
             sources:\n  bids: {{type: generator, kind: bids, events: 20000, batch_size: 500, rate_limit: 10000}}\n\
             sinks:\n  lake:\n    type: delta\n    inputs: [bids]\n    table: '{}'\n    quality:\n      rules:\n        \
             - {{name: cheap, severity: warn, valid: \"price < 1000\"}}\n        \
             - {{name: has_bidder, severity: warn, completeness: {{column: bidder, max_null_fraction: 0}}}}\n        \
             - {{name: not_huge, severity: quarantine, valid: \"price < 9000\"}}\n",
            lake.join("bids").display()
        ),
    )
    .unwrap();
    path
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_jobs_tables_and_sql_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let server = ServerProcess::start(&lake, &[]);
    let gated = gated_job(dir.path(), &lake);
    assert!(server
        .weir(&["submit", gated.to_str().unwrap()])
        .status
        .success());
    server.wait_for("gated", "finished", |_| true);
    let live = dir.path().join("live.yaml");
    std::fs::write(
        &live,
        format!(
            "name: live\nparallelism: 2\ncheckpoints: {{interval: 200ms}}\n\
             sources:\n  bids: {{type: generator, kind: bids, events: 10000000, batch_size: 500, rate_limit: 2000, \
             watermark: {{event_time: event_time, max_out_of_orderness: 1s}}}}\n\
             sinks:\n  lake:\n    type: delta\n    inputs: [bids]\n    table: '{}'\n",
            lake.join("live").display()
        ),
    )
    .unwrap();
    assert!(server
        .weir(&["submit", live.to_str().unwrap()])
        .status
        .success());
    server.wait_for("live", "running", |job| {
        job["rows_per_second"].as_f64() > Some(0.0)
    });

    let url = server.url().to_string();
    let mut browser = Browser::launch(1280, 800).await;

    // Jobs: the running job with a rate that moves, drawn in the overview chart.
    browser.goto(&format!("{url}/#/jobs")).await;
    let rate = |b: &Value| text(b).replace(',', "").parse::<f64>().unwrap_or(0.0);
    let first = browser
        .wait_for("document.querySelector('tr[data-job=live] .rate')?.textContent")
        .await;
    browser
        .wait_for("document.querySelectorAll('#page svg.chart path').length > 0")
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let later = browser
        .eval("document.querySelector('tr[data-job=live] .rate').textContent")
        .await;
    assert!(rate(&later) > 0.0, "{first} then {later}");
    let status = browser
        .eval("document.querySelector('tr[data-job=gated] .badge').textContent")
        .await;
    assert_eq!(text(&status), "finished");
    browser.screenshot(&shots().join("jobs.png")).await;

    // A job file with a mistake: the server's message, at its line, and the line marked.
    let broken = "name: broken\\nsources:\\n  bids: {type: generator, kind: bids, eventz: 5}\\nsinks:\\n  out: {type: stdout, inputs: [bids]}\\n";
    browser
        .eval(&format!("document.getElementById('job-text').value = \"{broken}\"; document.getElementById('submit-job').click(); true"))
        .await;
    let mistake = browser
        .wait_for("document.querySelector('.mistakes li')?.textContent")
        .await;
    assert!(text(&mistake).starts_with("job.yaml:3:"), "{mistake}");
    assert!(text(&mistake).contains("eventz"), "{mistake}");
    let marked = browser
        .eval("document.querySelector('.lines span.mistake').textContent")
        .await;
    assert_eq!(
        text(&marked),
        "  bids: {type: generator, kind: bids, eventz: 5}"
    );
    browser
        .eval("document.getElementById('submit-result').scrollIntoView(); true")
        .await;
    browser
        .screenshot(&shots().join("submit-mistake.png"))
        .await;

    // A job: its graph, then stop and resume from the page.
    browser.goto(&format!("{url}/#/jobs/live")).await;
    let nodes = browser
        .wait_for("document.querySelectorAll('svg g.node').length")
        .await;
    assert_eq!(nodes, 2);
    // The watermark of each of the source's partitions, as the job view has them.
    let partitions = browser
        .wait_for("document.querySelectorAll('#partition-watermarks tbody tr').length")
        .await;
    let job = server.json(&["job", "live"]);
    let expected = job["nodes"][0]["partition_watermarks"]
        .as_array()
        .unwrap()
        .len();
    assert!(expected >= 2, "{job:#}");
    assert_eq!(partitions, expected);
    browser
        .wait_for("document.querySelector('h1 .badge')?.textContent === 'running'")
        .await;
    browser.screenshot(&shots().join("job.png")).await;
    browser
        .eval("document.querySelector('button[aria-label=\"stop live\"]').click(); true")
        .await;
    browser
        .wait_for("document.querySelector('h1 .badge')?.textContent === 'stopped'")
        .await;
    server.wait_for("live", "stopped", |_| true);
    browser
        .eval("document.querySelector('button[aria-label=\"resume live\"]').click(); true")
        .await;
    browser
        .wait_for("document.querySelector('h1 .badge')?.textContent === 'running'")
        .await;
    let history = browser.eval("document.body.innerText").await;
    assert!(text(&history).contains("stopped"), "{history}");

    // Samples of the rows a gate quarantined, from the quarantine table.
    browser.goto(&format!("{url}/#/jobs/gated")).await;
    let samples = browser
        .wait_for("document.querySelector('#samples [data-samples=bids_quarantine] tbody tr') && document.getElementById('samples').innerText")
        .await;
    assert!(
        text(&samples).starts_with("Quarantined rows (bids_quarantine)"),
        "{samples}"
    );
    assert!(text(&samples).contains("not_huge"), "{samples}");
    browser.screenshot(&shots().join("job-finished.png")).await;

    // SQL: rows for a query run with Ctrl-Enter, an error for DDL.
    browser.goto(&format!("{url}/#/sql")).await;
    browser
        .wait_for("document.querySelectorAll('.sql li button').length >= 2")
        .await;
    browser
        .eval("{ const e = document.getElementById('sql-editor'); e.value = 'SELECT (SELECT count(*) FROM bids) + (SELECT count(*) FROM bids_quarantine) AS bids'; e.focus(); true }")
        .await;
    browser.press_ctrl("Enter", 13).await;
    let count = browser
        .wait_for("document.querySelector('#sql-output tbody td')?.textContent")
        .await;
    assert_eq!(text(&count), "20000");
    let status = browser
        .eval("document.getElementById('sql-status').textContent")
        .await;
    assert!(text(&status).starts_with("1 row in "), "{status}");
    // A result with a time column and a numeric one is drawn as a chart too.
    browser
        .eval("{ document.getElementById('sql-editor').value = \"SELECT date_trunc('second', event_time) AS second, count(*) AS bids FROM bids GROUP BY 1 ORDER BY 1\"; document.getElementById('sql-run').click(); true }")
        .await;
    let charted = browser
        .wait_for("document.querySelector('#result-chart h2')?.textContent")
        .await;
    assert_eq!(text(&charted), "Chart: bids by second");
    let lines = browser
        .eval("document.querySelectorAll('#result-chart svg path').length")
        .await;
    assert_eq!(lines, 1);
    browser.screenshot(&shots().join("sql.png")).await;
    browser
        .eval("{ document.getElementById('sql-editor').value = 'CREATE TABLE copy AS SELECT * FROM bids'; document.getElementById('sql-run').click(); true }")
        .await;
    let refused = browser
        .wait_for("document.getElementById('sql-error')?.textContent")
        .await;
    assert!(text(&refused).contains("read-only"), "{refused}");
    // A mistake in the query is shown at its line and column, and selected in the editor.
    browser
        .eval("{ document.getElementById('sql-editor').value = 'SELECT price\\nFROM bids\\nWHERE nope > 1'; document.getElementById('sql-run').click(); true }")
        .await;
    let placed = browser
        .wait_for("document.getElementById('sql-error')?.textContent.includes('nope') && document.getElementById('sql-error').textContent")
        .await;
    assert!(text(&placed).ends_with("(at line 3, column 7)"), "{placed}");
    let selected = browser
        .eval("{ const e = document.getElementById('sql-editor'); e.value.slice(e.selectionStart, e.selectionEnd) }")
        .await;
    assert_eq!(text(&selected), "nope");
    browser.screenshot(&shots().join("sql-error.png")).await;

    // A table: its history and the quality verdict of each version.
    browser.goto(&format!("{url}/#/tables/bids")).await;
    browser
        .wait_for("document.querySelectorAll('.timeline [data-version]').length >= 3")
        .await;
    let judged = browser
        .eval(
            "document.querySelectorAll('.timeline .pass, .timeline .warn, .timeline .fail').length",
        )
        .await;
    let versions = browser
        .eval("document.querySelectorAll('.timeline [data-version]').length")
        .await;
    // Every version but the table's creation carries the gate's verdicts.
    assert_eq!(judged.as_u64().unwrap() + 1, versions.as_u64().unwrap());
    let history_rows = browser
        .eval("[...document.querySelectorAll('section table tbody tr')].filter(r => r.textContent.includes('WRITE')).length")
        .await;
    assert_eq!(history_rows.as_u64(), judged.as_u64());
    browser.screenshot(&shots().join("table.png")).await;

    browser.goto(&format!("{url}/#/lake")).await;
    browser
        .wait_for("[...document.querySelectorAll('table a')].some(a => a.textContent === 'live')")
        .await;
    browser.screenshot(&shots().join("lake.png")).await;

    // At phone width nothing is wider than the screen: wide tables scroll in their panel.
    browser.viewport(390, 844).await;
    for page in ["jobs", "jobs/live", "sql", "tables/bids"] {
        browser.goto(&format!("{url}/#/{page}")).await;
        browser
            .wait_for("document.querySelectorAll('#page section').length > 0")
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let width = browser.eval("document.documentElement.scrollWidth").await;
        assert!(width.as_u64() <= Some(390), "{page}: {width} pixels wide");
        let name = page.replace('/', "-");
        browser
            .screenshot(&shots().join(format!("phone-{name}.png")))
            .await;
    }
}
