#!/usr/bin/env bash
# The regression suite with every backend under valgrind (memcheck): slow
# (about ten times the normal run), so not part of the test command.
# Reports valgrind errors whose stack passes through quota.so.
#
#   bash test/scripts/valgrind.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! command -v valgrind >/dev/null; then
    [ "$(id -u)" -eq 0 ] || { echo "valgrind is missing" >&2; exit 1; }
    apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi
ensure_packages
build_install

work=$(private_copy)
trap 'rm -rf "$work"' EXIT
# pg_ctl starts the "postgres" next to itself: give it a copy of pg_ctl and
# a postgres that runs the real one under valgrind
bin="$work/vgbin"
mkdir -p "$bin" "$work/vglogs"
cp "$PG_BIN/pg_ctl" "$bin/"
for p in initdb psql pg_dump; do ln -s "$PG_BIN/$p" "$bin/$p"; done
cat > "$bin/postgres" <<WRAP
#!/bin/sh
case "\$1" in -V|--version) exec "$PG_BIN/postgres" "\$@";; esac
exec valgrind --quiet --trace-children=yes --track-origins=yes \\
    --read-var-info=yes --num-callers=30 --error-limit=no \\
    --log-file="$work/vglogs/%p.log" "$PG_BIN/postgres" "\$@"
WRAP
chmod +x "$bin/postgres"
[ "$(id -u)" -ne 0 ] || chown -R "$PG_USER": "$work"

say "regression suite under valgrind"
set +e
as_pg make -C "$work" -s PG_CONFIG="$PG_BIN/pg_config" regresscheck \
    EXTRA_REGRESS_OPTS="--bindir=$bin"
rc=$?
set -e
# a frame of ours shows as quota.so, or as one of our source files
ours='quota\.so|\((quota|credits|credits_agg|credits_text|cost|catalog|cron|identity|escrow|pools|charge|alert|hint|request|reserve)\.c:'
errors=$( (grep -lE "$ours" "$work"/vglogs/*.log 2>/dev/null || true) | wc -l)
reports=$( (cat "$work"/vglogs/*.log 2>/dev/null || true) | (grep -c '^==[0-9]*== [A-Z]' || true))
say "valgrind: $reports reports in all, $errors log(s) with a frame in quota"
(cat "$work"/vglogs/*.log 2>/dev/null || true) | grep -E '^==[0-9]+== [A-Z]' | sed 's/^==[0-9]*== //' | sort | uniq -c | sort -rn | head
[ "$rc" -eq 0 ] || head -n 60 "$work/regression.diffs"
if [ "$errors" -gt 0 ]; then
    grep -lE "$ours" "$work"/vglogs/*.log | head -3 | xargs -r cat
    exit 1
fi
exit $rc
