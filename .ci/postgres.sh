#!/usr/bin/env bash
# Start a throwaway PostgreSQL server on 127.0.0.1 for the gradebook tests.
#
#   eval "$(.ci/postgres.sh)"        # start; exports GRADETAPE_TEST_POSTGRES_URL (+ _DATA)
#   .ci/postgres.sh stop             # stop it again (uses GRADETAPE_TEST_POSTGRES_DATA)
#
# Starting installs PostgreSQL with apt-get (quietly) only when no server binaries are found,
# makes a cluster in a fresh temp directory (owned by the `postgres` user when run as root,
# trust authentication, listening on 127.0.0.1 only, on a free port or $GRADETAPE_PG_PORT),
# starts it, creates the database `gradetape_test` and prints, on stdout and nothing else:
#
#   export GRADETAPE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:<port>/gradetape_test
#   export GRADETAPE_TEST_POSTGRES_DATA=<cluster directory>
#
# Progress and errors go to stderr. The tests create one database per test on this server
# (the URL's role may CREATE DATABASE), so parallel workers never share data.
set -euo pipefail

log() { printf 'postgres.sh: %s\n' "$*" >&2; }

find_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

# Run a command as the cluster's owner: `postgres` when we are root (initdb refuses root).
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

if [[ ${1:-start} == stop ]]; then
    data=${2:-${GRADETAPE_TEST_POSTGRES_DATA:?set GRADETAPE_TEST_POSTGRES_DATA or pass the cluster directory}}
    bindir=$(find_bindir)
    as_owner "$bindir/pg_ctl" -D "$data" -m fast -w stop >&2
    rm -rf "$(dirname "$data")"
    exit 0
fi

if ! bindir=$(find_bindir); then
    log "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql >&2
    bindir=$(find_bindir)
fi

if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi

port=${GRADETAPE_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
root=$(mktemp -d "${TMPDIR:-/tmp}/gradetape-pg.XXXXXX")
data="$root/data"
mkdir -p "$data"
if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres: "$root"
fi
chmod 700 "$root"

log "initdb in $data ($bindir)"
as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    --no-sync >"$root/initdb.log" 2>&1 || {
    cat "$root/initdb.log" >&2
    exit 1
}
# Listen on loopback TCP only; the socket directory is private to this cluster.
# fsync off: a test server never needs to survive a crash, and CI disks are slow.
as_owner "$bindir/pg_ctl" -D "$data" -l "$root/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $root -c fsync=off -c max_connections=200" \
    start >/dev/null || {
    cat "$root/server.log" >&2
    exit 1
}
as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres gradetape_test
log "$("$bindir/postgres" --version) on 127.0.0.1:$port (data $data)"

echo "export GRADETAPE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:$port/gradetape_test"
echo "export GRADETAPE_TEST_POSTGRES_DATA=$data"
