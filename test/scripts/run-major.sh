#!/usr/bin/env bash
# Run the whole test suite (make test) against another PostgreSQL major, in
# a Debian root file system made with mmdebstrap, entered with chroot:
#
#   bash test/scripts/run-major.sh 17          # Debian 13 (trixie)
#   bash test/scripts/run-major.sh 18          # Debian unstable
#   bash test/scripts/run-major.sh 18 demo.sh  # another script of test/scripts
#
# The root file system is made when it is missing and kept for the next run
# in QUOTA_ROOTFS_DIR (default /var/cache/quota-rootfs), one per major, with
# the packages of the suite (common.sh's list; the suite installs any that
# a kept root file system lacks).  The
# source tree is copied into it afresh for each run (rootfs.sh).  Runs as
# root (mmdebstrap, chroot and mount need it).  The host's own major runs
# without a chroot.
#
# The dump-and-restore major upgrade is tested too: a server of the host's
# major (15 on Debian 12), started here on 127.0.0.1 with the university of
# test/major/source.sql, is dumped by the newer major's pg_dump and restored
# there (test/major/001_dump_from_older_major.pl).  QUOTA_CROSS_MAJOR=0
# leaves it out.
set -euo pipefail

major=${1:?usage: run-major.sh 15|17|18 [script of test/scripts]}
script=${2:-run-tests.sh}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$QUOTA_ROOT/test/scripts/rootfs.sh"

case "$major" in
    15) suite=bookworm ;;
    17) suite=trixie ;;
    18) suite=unstable ;;
    *) echo "run-major.sh: no Debian release ships PostgreSQL $major (15, 17, 18)" >&2; exit 2 ;;
esac

if [ "$major" = "$(debian_pg_major)" ]; then
    exec env QUOTA_PG_MAJOR="$major" bash "$QUOTA_ROOT/test/scripts/$script"
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "run-major.sh: run as root (mmdebstrap, chroot and mount need it)" >&2
    exit 1
fi

dir=${QUOTA_ROOTFS_DIR:-/var/cache/quota-rootfs}/pg$major
rootfs_ensure "$dir" "$suite" \
    "postgresql-$major,postgresql-server-dev-$major,postgresql-$major-cron,make,gcc,libipc-run-perl,pgbouncer,clang,libclang-rt-dev,python3-psycopg2,prometheus-postgres-exporter,prometheus"

# The older major's server for test/major, on the host, on loopback
source_port=
source_dir=
stop_source() {
    if [ -n "$source_dir" ]; then
        as_pg pg_ctl -D "$source_dir/pg" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$source_dir"
    fi
    rootfs_unmount
}
trap stop_source EXIT
trap 'exit 130' INT TERM
if [ "${QUOTA_CROSS_MAJOR:-1}" != 0 ] && [ "$major" -gt "$PG_MAJOR" ]; then
    ensure_packages
    build_install
    source_dir=$(mktemp -d /tmp/quota-source.XXXXXX)
    chown "$PG_USER": "$source_dir"
    source_port=$(( 56000 + RANDOM % 4000 ))
    say "PostgreSQL $PG_MAJOR on 127.0.0.1:$source_port: the source of the dump-and-restore upgrade"
    as_pg initdb -D "$source_dir/pg" -A trust -U postgres >/dev/null
    cat >> "$source_dir/pg/postgresql.conf" <<CONF
port = $source_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$source_dir'
shared_preload_libraries = 'quota'
timezone = 'UTC'
CONF
    as_pg pg_ctl -D "$source_dir/pg" -l "$source_dir/server.log" -w start >/dev/null
    as_pg createdb -h "$source_dir" -p "$source_port" -U postgres univ
    as_pg psql -X -q -h "$source_dir" -p "$source_port" -U postgres -d univ \
        -f "$QUOTA_ROOT/test/major/source.sql" >/dev/null
fi

say "PostgreSQL $major ($suite, $dir): test/scripts/$script"
rootfs_run "$dir" "$script" QUOTA_PG_MAJOR="$major" ${source_port:+QUOTA_SOURCE_PORT="$source_port"}
