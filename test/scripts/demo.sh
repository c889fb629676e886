#!/usr/bin/env bash
# The main job: install what is missing, build, start a throwaway cluster
# with pg_cron, load a realistic university set-up and show it working.
#
#   QUOTA_DEMO_PORT    the cluster's port (default 55432; Unix socket only)
#   QUOTA_DEMO_KEEP=1  leave the cluster running afterwards

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_packages
build_install

port=${QUOTA_DEMO_PORT:-55432}
data=$(mktemp -d /tmp/quota-demo.XXXXXX)
[ "$(id -u)" -ne 0 ] || chown "$PG_USER": "$data"

stop_cluster() {
    as_pg pg_ctl -D "$data/pg" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$data"
}
if [ "${QUOTA_DEMO_KEEP:-0}" != 1 ]; then
    trap stop_cluster EXIT
fi

say "starting a throwaway cluster on port $port (pg_cron and quota preloaded)"
as_pg initdb -D "$data/pg" -A trust -U postgres >/dev/null
cat >> "$data/pg/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$data'
shared_preload_libraries = 'pg_cron,quota'
cron.database_name = 'university'
cron.use_background_workers = on
timezone = 'Asia/Hong_Kong'
CONF
as_pg pg_ctl -D "$data/pg" -l "$data/server.log" -w start >/dev/null
as_pg createdb -h "$data" -p "$port" -U postgres university

say "loading the university and walking through it"
as_pg psql -X -h "$data" -p "$port" -U postgres -d university \
    -v ON_ERROR_STOP=1 -f "$QUOTA_ROOT/test/scripts/demo.sql"

if [ "${QUOTA_DEMO_KEEP:-0}" = 1 ]; then
    say "cluster left running: psql -h $data -p $port -U postgres university"
    echo "stop it with: runuser -u $PG_USER -- $PG_BIN/pg_ctl -D $data/pg stop && rm -rf $data"
fi
say "demo finished"
