#!/usr/bin/env bash
# Inside the root file system of run-pg-upgrade.sh (as root): build and
# install quota for 15 and for 17, then run the pg_upgradecluster test.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

for m in 15 17; do
    say "building quota for PostgreSQL $m"
    make -C "$QUOTA_ROOT" -s PG_CONFIG=/usr/lib/postgresql/$m/bin/pg_config clean
    make -C "$QUOTA_ROOT" -s PG_CONFIG=/usr/lib/postgresql/$m/bin/pg_config COPT=-Werror all
    make -C "$QUOTA_ROOT" -s PG_CONFIG=/usr/lib/postgresql/$m/bin/pg_config install >/dev/null
done

say "pg_upgradecluster suite"
log=$(mktemp)
set +e
(cd "$QUOTA_ROOT" && prove -I test/major test/major/002_pg_upgradecluster.pl) 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
p=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\).*/\1/p' "$log" | tail -1)
f=$(awk -F'[ /]' '/^Failed [0-9]+\/[0-9]+ subtests/ {n += $2} END {print n + 0}' "$log")
[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || f=1
say "summary (pg_upgradecluster 15 -> 17, $SECONDS s)"
echo "$(( ${p:-0} - f < 0 ? 0 : ${p:-0} - f )) passed, $f failed"
exit $rc
