#!/usr/bin/env bash
# Shared set-up for the README's two commands: packages, build, and running
# server-side programs as an unprivileged user (initdb refuses root).

set -euo pipefail

QUOTA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The PostgreSQL major to build and test against: QUOTA_PG_MAJOR, else the
# one this Debian release ships (12: 15, 13: 17, later: 18).
debian_pg_major() {
    case "$(cut -d. -f1 /etc/debian_version 2>/dev/null)" in
        12) echo 15 ;;
        13) echo 17 ;;
        *) echo 18 ;;
    esac
}
PG_MAJOR=${QUOTA_PG_MAJOR:-$(debian_pg_major)}
# QUOTA_PG_BIN: another (relocated) installation of that major to use
PG_BIN=${QUOTA_PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
export PG_CONFIG="$PG_BIN/pg_config"
export PATH="$PG_BIN:$PATH"

# Print a section heading.
say() { printf '\n== %s\n' "$*"; }

# Install the Debian packages the project needs, only those missing.
ensure_packages() {
    local want=(postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR
                postgresql-$PG_MAJOR-cron make gcc libipc-run-perl pgbouncer
                clang libclang-rt-dev python3-psycopg2
                prometheus-postgres-exporter prometheus)
    local missing=()
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        if [ "$(id -u)" -ne 0 ]; then
            echo "missing packages: ${missing[*]}; run as root or install them" >&2
            exit 1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    # The Debian package starts a cluster on 5432; the project never uses it.
}

# Build and install the extension into the PostgreSQL installation
# (QUOTA_COPT: extra compiler flags, -Werror for the tests).
build_install() {
    say "building quota"
    make -C "$QUOTA_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" ${QUOTA_COPT:+COPT="$QUOTA_COPT"} all
    if [ "$(id -u)" -eq 0 ] || [ -w "$($PG_BIN/pg_config --pkglibdir)" ]; then
        make -C "$QUOTA_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
    else
        echo "cannot write $($PG_BIN/pg_config --pkglibdir): run as root" >&2
        exit 1
    fi
}

# The unprivileged user that owns throwaway clusters.
PG_USER=${QUOTA_PG_USER:-postgres}

# Run a command as the unprivileged user (directly when not root).
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u "$PG_USER" -- env PATH="$PATH" "$@"
    else
        "$@"
    fi
}

# Copy the source tree to a directory the unprivileged user owns.
private_copy() {
    local dir
    dir=$(mktemp -d /tmp/quota-work.XXXXXX)
    tar -C "$QUOTA_ROOT" --exclude=.git --exclude=tmp_check --exclude=tmp_check_iso -cf - . | tar -C "$dir" -xf -
    if [ "$(id -u)" -eq 0 ]; then
        chown -R "$PG_USER": "$dir"
    fi
    echo "$dir"
}

# Start a throwaway instance for a benchmark: bench_instance PORT [CONF...].
# Sets BENCH_DIR and bench_psql; the instance is removed on exit.
# Like a production server (README, "Settings"), it runs on huge pages: as
# root, the pages its shared memory needs are reserved for it if the
# system has too few free, and handed back at exit.  On a virtual machine
# small pages cost every workload much more CPU in address translation
# (test/bench/README.md).  QUOTA_BENCH_HUGE_PAGES=off runs without them.
bench_instance() {
    local port=$1 line need
    shift
    BENCH_DIR=$(mktemp -d /tmp/quota-bench.XXXXXX)
    BENCH_HUGE_RESTORE=${BENCH_HUGE_RESTORE:-}   # the value before this script reserved any
    [ "$(id -u)" -ne 0 ] || chown "$PG_USER": "$BENCH_DIR"
    trap 'as_pg pg_ctl -D "$BENCH_DIR/pg" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$BENCH_DIR"; bench_huge_release' EXIT
    as_pg initdb -D "$BENCH_DIR/pg" -A trust -U postgres >/dev/null
    {
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$BENCH_DIR'"
        echo "shared_preload_libraries = 'quota'"
        echo "shared_buffers = '512MB'"
        echo "max_connections = 60"
        echo "max_wal_size = '4GB'"
        echo "checkpoint_timeout = '30min'"
        for line in "$@"; do echo "$line"; done
    } >> "$BENCH_DIR/pg/postgresql.conf"
    BENCH_HUGE_PAGES=off
    if [ "${QUOTA_BENCH_HUGE_PAGES:-on}" = on ]; then
        need=$(as_pg postgres -D "$BENCH_DIR/pg" -C shared_memory_size_in_huge_pages 2>/dev/null || echo 0)
        if [ "$need" -gt 0 ] && bench_huge_reserve "$need"; then
            BENCH_HUGE_PAGES=on
        fi
    fi
    echo "huge_pages = $BENCH_HUGE_PAGES" >> "$BENCH_DIR/pg/postgresql.conf"
    if ! as_pg pg_ctl -D "$BENCH_DIR/pg" -l "$BENCH_DIR/server.log" -w start >/dev/null; then
        [ "$BENCH_HUGE_PAGES" = on ] || { tail -5 "$BENCH_DIR/server.log" >&2; return 1; }
        tail -2 "$BENCH_DIR/server.log"
        BENCH_HUGE_PAGES="off (the server did not start with them)"
        echo "huge_pages = off" >> "$BENCH_DIR/pg/postgresql.conf"
        as_pg pg_ctl -D "$BENCH_DIR/pg" -l "$BENCH_DIR/server.log" -w start >/dev/null
    fi
    echo "instance on port $port: huge pages $BENCH_HUGE_PAGES"
    BENCH_PORT=$port
}

# Huge pages nobody has claimed: free ones less those that running servers
# reserved but have not touched yet.
bench_huge_unclaimed() {
    awk '/^HugePages_Free:/ {f = $2} /^HugePages_Rsvd:/ {r = $2} END {print f - r}' /proc/meminfo
}

# Make sure N huge pages are unclaimed (reserving more as root); false if not.
bench_huge_reserve() {
    local need=$1 total free
    total=$(awk '/^HugePages_Total:/ {print $2}' /proc/meminfo)
    [ -n "$total" ] || return 1
    free=$(bench_huge_unclaimed)
    [ "$free" -lt "$need" ] || return 0
    [ "$(id -u)" -eq 0 ] || return 1
    BENCH_HUGE_RESTORE=${BENCH_HUGE_RESTORE:-$total}
    echo $((total + need - free)) > /proc/sys/vm/nr_hugepages 2>/dev/null || true
    [ "$(bench_huge_unclaimed)" -ge "$need" ]
}

# Hand back the huge pages bench_huge_reserve reserved.
bench_huge_release() {
    if [ -n "${BENCH_HUGE_RESTORE:-}" ]; then
        echo "$BENCH_HUGE_RESTORE" > /proc/sys/vm/nr_hugepages 2>/dev/null || true
        BENCH_HUGE_RESTORE=
    fi
}

# psql against the benchmark instance.
bench_psql() { as_pg psql -X -q -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres -d postgres "$@"; }
