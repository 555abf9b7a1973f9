#!/usr/bin/env bash
# Runs every test of weir on a fresh machine. Whatever the tests need beyond the Rust
# toolchain is installed and started here, idempotently, and stopped on exit: a
# Kafka-protocol broker (tansu) unless WEIR_KAFKA_BROKERS names one already running, an
# S3 server (moto) unless WEIR_S3_ENDPOINT names one, DuckDB's Python package (the SQL
# benchmark's reference), deltalake's (the compaction benchmark's anchor) and tpchgen-cli
# (the TPC-H benchmark's generator), and Debian's
# chromium (the console's tests drive it headless) and wrk (the server benchmark's load).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/kafka.sh
source scripts/s3.sh
# One exit trap stops whatever was started (a second `trap ... EXIT` would replace it).
trap 'kafka_stop; s3_stop' EXIT
kafka_start
s3_start
# Installs the Debian packages named that are missing (once), refreshing the package
# lists when an install without them fails.
apt_install() {
    local missing=() sudo=""
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    echo "installing ${missing[*]} with apt-get (once)"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null ||
        { $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; }
}
apt_install chromium wrk
if ! python3 -c 'import duckdb' 2>/dev/null; then
    echo "installing duckdb with pip (once)"
    python3 -m pip install --quiet duckdb
fi
# Scripts pip installs (tpchgen-cli) go to this Python's scripts folder.
PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
export PATH
if ! command -v tpchgen-cli >/dev/null; then
    echo "installing tpchgen-cli with pip (once)"
    python3 -m pip install --quiet "tpchgen-cli==4.0.0"
fi
if ! python3 -c 'import deltalake' 2>/dev/null; then
    echo "installing deltalake with pip (once)"
    python3 -m pip install --quiet "deltalake==1.6.6"
fi

cargo test --workspace --all-targets --locked
# Examples are part of the docs: run each once on a small input.
cargo run --locked --quiet --example engine_bench -- --events 20000 >/dev/null
cargo run --locked --quiet --example checkpoint_bench -- --events 2000000 --keys 10000 --intervals-ms 100,20 >/dev/null
cargo run --locked --quiet --example kafka_bench -- --messages 20000 >/dev/null
cargo run --locked --quiet --example format_bench -- --records 2000 >/dev/null
cargo run --locked --quiet --example file_source_bench -- --mb 2 >/dev/null
cargo run --locked --quiet --example generator_bench -- --events 20000 >/dev/null
cargo run --locked --quiet --example log_pipeline_bench -- --lines 20000 >/dev/null
cargo run --locked --quiet --example compact_bench -- --rows 100000 --files 40 --clustered-files 9 >/dev/null
cargo run --locked --quiet --example commit_bench -- --versions 10,40 >/dev/null
cargo run --locked --quiet --example stream_compaction_bench -- --events 2000000 --runs 1 >/dev/null
cargo run --locked --quiet --example quality_gate_bench -- --mb 2 --runs 1 >/dev/null
cargo run --locked --quiet --example quality_bench -- --rows 50000 --runs 1 >/dev/null
cargo run --locked --quiet --example delta_bench -- --mb 4 --events 100000 --commits 5 >/dev/null
# Also checks that weir and DuckDB give the same rows for every exact query.
cargo run --locked --quiet --example sql_bench -- --rows 200000 --runs 1 --dir "${TMPDIR:-/tmp}/weir-sql-bench" >/dev/null
cargo run --locked --quiet --example server_bench -- --events 20000 --rounds 1 --seconds 1 >/dev/null
# Also checks that weir's answers to the 22 TPC-H queries equal DuckDB's.
cargo run --locked --quiet --example tpch_bench -- --scale 0.01 --runs 1 --dir "${TMPDIR:-/tmp}/weir-tpch" >/dev/null
# Also checks a new process and an open session see a version committed meanwhile.
cargo run --locked --quiet --example cold_start_bench -- --tables 3 --versions 250 --runs 2 --dir "${TMPDIR:-/tmp}/weir-cold-start" >/dev/null
echo "examples: 17 passed, 0 failed"
