# Sourced by scripts/test.sh: makes an S3 server available to the tests as
# WEIR_S3_ENDPOINT (http://host:port). A server given that way is used as it is; otherwise
# moto (the S3 API in Python, from PyPI) is installed with pip when it is missing, started
# on a free port on 127.0.0.1 with an in-memory store, and stopped by s3_stop.

s3_install_moto() {
    if python3 -c 'import moto.server' 2>/dev/null; then
        return
    fi
    echo "installing moto[server] with pip (once)"
    python3 -m pip install --quiet 'moto[server]'
}

s3_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

s3_stop() {
    if [ -n "${WEIR_MOTO_PID:-}" ]; then
        kill "$WEIR_MOTO_PID" 2>/dev/null || true
        wait "$WEIR_MOTO_PID" 2>/dev/null || true
        unset WEIR_MOTO_PID
    fi
}

s3_start() {
    if [ -n "${WEIR_S3_ENDPOINT:-}" ]; then
        echo "using the S3 server at $WEIR_S3_ENDPOINT"
        return
    fi
    s3_install_moto
    local port log
    port="$(s3_free_port)"
    log="${TMPDIR:-/tmp}/weir-moto-$port.log"
    # The module is what the moto_server command runs; it works without the command on PATH.
    python3 -m moto.server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    WEIR_MOTO_PID=$!
    for _ in $(seq 1 300); do
        if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            export WEIR_S3_ENDPOINT="http://127.0.0.1:$port"
            echo "moto is listening on $WEIR_S3_ENDPOINT (log: $log)"
            return
        fi
        if ! kill -0 "$WEIR_MOTO_PID" 2>/dev/null; then
            echo "moto did not start; its log:" >&2
            cat "$log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "moto did not listen on port $port within 30 s; its log:" >&2
    cat "$log" >&2
    return 1
}
