# Sourced by scripts/test.sh: makes a Kafka-protocol broker available to the tests as
# WEIR_KAFKA_BROKERS. A broker given that way is used as it is; otherwise tansu (an
# Apache-Kafka-compatible broker in Rust, from crates.io) is installed once into
# $WEIR_TOOLS (default ~/.cache/weir-tools) and started on a free port on 127.0.0.1 with
# an in-memory store, and stopped by kafka_stop.

WEIR_TOOLS="${WEIR_TOOLS:-$HOME/.cache/weir-tools}"
TANSU_VERSION=0.6.0

kafka_install_tansu() {
    if [ -x "$WEIR_TOOLS/bin/tansu" ] && "$WEIR_TOOLS/bin/tansu" --version 2>/dev/null | grep -q "$TANSU_VERSION"; then
        return
    fi
    echo "installing tansu $TANSU_VERSION into $WEIR_TOOLS (once; about 8 minutes on 2 cores)"
    cargo install --locked --quiet tansu --version "$TANSU_VERSION" --features dynostore --root "$WEIR_TOOLS"
}

kafka_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

kafka_stop() {
    if [ -n "${WEIR_TANSU_PID:-}" ]; then
        kill "$WEIR_TANSU_PID" 2>/dev/null || true
        wait "$WEIR_TANSU_PID" 2>/dev/null || true
        unset WEIR_TANSU_PID
    fi
}

kafka_start() {
    if [ -n "${WEIR_KAFKA_BROKERS:-}" ]; then
        echo "using the Kafka broker at $WEIR_KAFKA_BROKERS"
        return
    fi
    kafka_install_tansu
    local port log
    port="$(kafka_free_port)"
    log="${TMPDIR:-/tmp}/weir-tansu-$port.log"
    "$WEIR_TOOLS/bin/tansu" broker \
        --listener-url "tcp://127.0.0.1:$port" \
        --advertised-listener-url "tcp://127.0.0.1:$port" \
        --storage-engine memory://tansu/ >"$log" 2>&1 &
    WEIR_TANSU_PID=$!
    for _ in $(seq 1 100); do
        if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            export WEIR_KAFKA_BROKERS="127.0.0.1:$port"
            echo "tansu is listening on $WEIR_KAFKA_BROKERS (log: $log)"
            return
        fi
        if ! kill -0 "$WEIR_TANSU_PID" 2>/dev/null; then
            echo "tansu did not start; its log:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "tansu did not listen on port $port within 10 s; its log:" >&2
    cat "$log" >&2
    return 1
}
