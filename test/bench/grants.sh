#!/bin/bash
# Credit grants and fallback pools (issue 29): charges on a pool with three
# live grants against a pool without grants, and charges that fall back
# (active pool empty, the fallback pays) against charges on that pool
# directly; pgbench, 16 clients, -M prepared, rounds interleaved, the order
# alternating.  On an instance of your own with quota preloaded:
#   PGHOST=/tmp PGPORT=5529 bash test/bench/grants.sh [rounds] [seconds]
# Prints tps per run and the ratios; set PGOPTIONS='-c synchronous_commit=off'
# for CPU-bound figures.
set -euo pipefail
rounds=${1:-3}
secs=${2:-10}
dir=$(cd "$(dirname "$0")" && pwd)
psql -X -q -c 'DROP DATABASE IF EXISTS quota_bench_grants' -c 'CREATE DATABASE quota_bench_grants' postgres
psql -X -q -f "$dir/grants_setup.sql" quota_bench_grants >/dev/null 2>&1
tmp=$(mktemp -d)
cat > "$tmp/pool.sql" <<'SQL'
\set u :client_id + 1
SELECT quota.quota_charge('bm', 0, 1000, md5(random()::text), user_id => 'b' || :u, pool => :pool);
SQL
cat > "$tmp/user.sql" <<'SQL'
\set u :client_id + 1
SELECT quota.quota_charge('bm', 0, 1000, md5(random()::text), user_id => :who || :u);
SQL
chmod -R a+r "$tmp"
run() {
	pgbench -n -c 16 -j 2 -M prepared -T "$secs" "$@" quota_bench_grants 2>&1 |
		sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
sum_none=0; sum_grants=0; sum_direct=0; sum_fallback=0
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) = 1 ]; then
		n=$(run -D pool=NoGrants -f "$tmp/pool.sql"); g=$(run -D pool=Grants3 -f "$tmp/pool.sql")
		d=$(run -D who=b -f "$tmp/user.sql"); f=$(run -D who=f -f "$tmp/user.sql")
	else
		g=$(run -D pool=Grants3 -f "$tmp/pool.sql"); n=$(run -D pool=NoGrants -f "$tmp/pool.sql")
		f=$(run -D who=f -f "$tmp/user.sql"); d=$(run -D who=b -f "$tmp/user.sql")
	fi
	echo "round $r: no grants $n tps, three grants $g tps ($(echo "scale=2; $g / $n" | bc)); direct $d tps, fallback $f tps ($(echo "scale=2; $f / $d" | bc))"
	sum_none=$(echo "$sum_none + $n" | bc); sum_grants=$(echo "$sum_grants + $g" | bc)
	sum_direct=$(echo "$sum_direct + $d" | bc); sum_fallback=$(echo "$sum_fallback + $f" | bc)
done
echo "three grants / no grants: $(echo "scale=3; $sum_grants / $sum_none" | bc)"
echo "fallback / direct: $(echo "scale=3; $sum_fallback / $sum_direct" | bc)"
psql -X -q -At -c "SELECT 'grants: ' || string_agg(format('%s=%s', grant_id, remaining), ' ' ORDER BY grant_id) FROM quota.pool_grants" \
	-c "SELECT 'ledger = balances: ' || bool_and(ok) FROM quota.quota_verify()" quota_bench_grants
rm -rf "$tmp"
