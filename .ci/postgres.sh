#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the shared-journal tests.
#   source .ci/postgres.sh && pg_start   # installs PostgreSQL when missing, starts a cluster,
#                                         # exports PIXFUSE_TEST_POSTGRES_URL
#   pg_stop                               # stops it and deletes its files
# The cluster listens only on a unix socket in its own directory plus a loopback port, trusts
# local connections (it holds nothing but test data) and lives as long as the test run.
# Skip all of this with PIXFUSE_TEST_POSTGRES=off (the tests then say they were skipped).

pg_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    if [ -z "$dir" ] || [ ! -x "$dir/initdb" ]; then
        echo "ci: installing PostgreSQL from the distribution's packages" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null
        dir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    fi
    echo "$dir"
}

pg_start() {
    local bin port run_as=()
    bin=$(pg_bin) || return 1
    PIXFUSE_PG_DIR=$(mktemp -d /tmp/pixfuse-pg.XXXXXX)
    export PIXFUSE_PG_DIR
    # The server refuses to run as root: run it as the packages' postgres user.
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
        chown postgres "$PIXFUSE_PG_DIR"
        run_as=(runuser -u postgres --)
    fi
    port=$(( 20000 + RANDOM % 20000 ))
    # A self-signed certificate for localhost, so the TLS path (rustls) is tested too.
    local ssl_opts=""
    if command -v openssl >/dev/null 2>&1 && openssl req -x509 -newkey rsa:2048 -nodes \
        -keyout "$PIXFUSE_PG_DIR/server.key" -out "$PIXFUSE_PG_DIR/server.crt" -days 2 \
        -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -addext "basicConstraints=critical,CA:FALSE" >/dev/null 2>&1; then
        chmod 600 "$PIXFUSE_PG_DIR/server.key"
        [ "$(id -u)" = 0 ] && chown postgres "$PIXFUSE_PG_DIR/server.key" "$PIXFUSE_PG_DIR/server.crt"
        ssl_opts="-c ssl=on -c ssl_cert_file=$PIXFUSE_PG_DIR/server.crt -c ssl_key_file=$PIXFUSE_PG_DIR/server.key"
        export PIXFUSE_TEST_POSTGRES_CA="$PIXFUSE_PG_DIR/server.crt"
    fi
    "${run_as[@]}" "$bin/initdb" -D "$PIXFUSE_PG_DIR/data" -U pixfuse --auth=trust \
        --no-sync -E UTF8 >"$PIXFUSE_PG_DIR/initdb.log" 2>&1 || {
        cat "$PIXFUSE_PG_DIR/initdb.log" >&2
        return 1
    }
    "${run_as[@]}" "$bin/pg_ctl" -D "$PIXFUSE_PG_DIR/data" -l "$PIXFUSE_PG_DIR/server.log" -w \
        -o "-k $PIXFUSE_PG_DIR -h 127.0.0.1 -p $port -c fsync=off -c max_connections=300 $ssl_opts" \
        start >/dev/null || {
        cat "$PIXFUSE_PG_DIR/server.log" >&2
        return 1
    }
    PIXFUSE_PG_PGCTL="$bin/pg_ctl"
    PIXFUSE_PG_RUNAS="${run_as[*]}"
    export PIXFUSE_PG_PGCTL PIXFUSE_PG_RUNAS
    export PIXFUSE_TEST_POSTGRES_URL="postgres://pixfuse@127.0.0.1:$port/postgres"
    echo "ci: PostgreSQL for the tests at $PIXFUSE_TEST_POSTGRES_URL" >&2
}

pg_stop() {
    [ -n "${PIXFUSE_PG_DIR:-}" ] || return 0
    if [ -d "$PIXFUSE_PG_DIR/data" ]; then
        # shellcheck disable=SC2086
        $PIXFUSE_PG_RUNAS "$PIXFUSE_PG_PGCTL" -D "$PIXFUSE_PG_DIR/data" -m immediate stop \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$PIXFUSE_PG_DIR"
    unset PIXFUSE_PG_DIR
}
