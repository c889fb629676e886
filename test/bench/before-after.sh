#!/usr/bin/env bash
# C/A before and after a change, in one invocation (issue 27, item 4): the
# plain insert (A, a_insert.sql) and the hot-pool charge (C, c_shared.sql)
# of run.sh, on two builds of quota side by side.
#
#   bash test/bench/before-after.sh REV            # REV against the working tree
#   QUOTA_BA_AFTER=/work/main bash test/bench/before-after.sh bb195bc
#                                   # against another work tree (or revision)
#   QUOTA_BA_PAGES="small huge" QUOTA_BA_ROUNDS=5 bash test/bench/before-after.sh bb195bc
#   QUOTA_BA_BEFORE_BIN=/tmp/m27-pg-before/usr/lib/postgresql/15/bin \
#   QUOTA_BA_AFTER_BIN=/tmp/m27-pg-after/usr/lib/postgresql/15/bin \
#       bash test/bench/before-after.sh            # two builds already installed
#
# REV is built into one private copy of PostgreSQL ("before") and the
# working tree into another ("after"), by test/bench/private-build.sh:
# nothing is installed under /usr.  REV may equal HEAD with a clean tree:
# then both sides are the same code and the ratios show the noise.  Each
# build gets its own temporary instance with run.sh's data set (setup.sql,
# every student's profile primed, each workload warmed up); both instances
# run at once, and every round runs A and C on one build then the other
# (the order swapped every other round), so the VM's drift hits both alike.
# A build's C/A is the median of its rounds' C/A.  Printed per round: TPS,
# the instance's own CPU per transaction ("server", its processes' times in
# /proc, which the rest of the shared machine hardly moves), the machine's
# (user + system us, /proc/stat, every process, as run.sh) and the load
# average.  "Server CPU A/C" is the plain insert's server CPU over the
# charge's: the C/A the instance would reach if CPU were all that limited
# it, a check on C/A when other work shares the machine.
#
# Pages (QUOTA_BA_PAGES, default "small huge"): small pages, then huge
# pages.  For huge pages, as root, vm.nr_hugepages is raised by what both
# servers need (postgres -C shared_memory_size_in_huge_pages) and put back
# at exit; the servers run with huge_pages = on (they fail rather than fall
# back), and the postmaster's mappings in 2 MB pages are printed from
# /proc/PID/smaps (PostgreSQL 15 has no huge_pages_status).
#
# Environment: QUOTA_BA_ROUNDS (3), QUOTA_BENCH_SECONDS (10),
# QUOTA_BENCH_CLIENTS (16), QUOTA_BENCH_WARMUP (5), QUOTA_BA_PORT (55520;
# the after instance uses the next port), QUOTA_BA_BEFORE_BIN and
# QUOTA_BA_AFTER_BIN (installed builds: skip building), QUOTA_BA_AFTER
# (what to build as "after": a revision or a work tree; default this one).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

rev=${1:-}
rounds=${QUOTA_BA_ROUNDS:-3}
secs=${QUOTA_BENCH_SECONDS:-10}
clients=${QUOTA_BENCH_CLIENTS:-16}
warmup=${QUOTA_BENCH_WARMUP:-5}
port0=${QUOTA_BA_PORT:-55520}
pages_list=${QUOTA_BA_PAGES:-small huge}
bench=$QUOTA_ROOT/test/bench
[ "$(id -u)" -eq 0 ] || { echo "run as root (the servers run as $PG_USER)" >&2; exit 1; }

declare -A bin=()
bin[before]=${QUOTA_BA_BEFORE_BIN:-}
bin[after]=${QUOTA_BA_AFTER_BIN:-}
if [ -z "${bin[before]}" ]; then
    [ -n "$rev" ] || { echo "usage: before-after.sh REV (or set QUOTA_BA_BEFORE_BIN)" >&2; exit 1; }
    bin[before]=$(bash "$bench/private-build.sh" before "$rev" | tail -1)
fi
if [ -z "${bin[after]}" ]; then
    bin[after]=$(bash "$bench/private-build.sh" after "${QUOTA_BA_AFTER:-.}" | tail -1)
fi
builds=(before after)
for b in "${builds[@]}"; do
    echo "$b: $(cat "${bin[$b]}/../../../../../QUOTA_BUILD" 2>/dev/null || echo "quota in ${bin[$b]}")"
done

declare -A dir=() port=()
cleanup() {
    local b
    for b in "${builds[@]}"; do
        if [ -n "${dir[$b]:-}" ]; then
            as_pg "${bin[$b]}/pg_ctl" -D "${dir[$b]}/pg" -m immediate stop >/dev/null 2>&1 || true
            rm -rf "${dir[$b]}"
            dir[$b]=
        fi
    done
    bench_huge_release
}
trap cleanup EXIT

load() { awk '{print $1, $2, $3}' /proc/loadavg; }
psql_() { local b=$1; shift; as_pg "${bin[$b]}/psql" -X -q -h "${dir[$b]}" -p "${port[$b]}" -U postgres -d postgres "$@"; }

# The 2 MB-page mappings of a postmaster, in MB.
huge_mb() { awk '/^Size:/ {s = $2} /^KernelPageSize: *2048 kB/ {t += s} END {print t / 1024}' "/proc/$1/smaps"; }

# start BUILD PAGES: a temporary instance of BUILD with the data set loaded.
start() {
    local b=$1 pages=$2 need pm
    dir[$b]=$(mktemp -d /tmp/m27-ba.XXXXXX)
    chown "$PG_USER": "${dir[$b]}"
    as_pg "${bin[$b]}/initdb" -D "${dir[$b]}/pg" -A trust -U postgres >/dev/null
    {
        echo "port = ${port[$b]}"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '${dir[$b]}'"
        echo "shared_preload_libraries = 'quota'"
        echo "shared_buffers = '512MB'"
        echo "max_connections = 60"
        echo "max_wal_size = '64GB'"
        echo "checkpoint_timeout = '1d'"
    } >> "${dir[$b]}/pg/postgresql.conf"
    if [ "$pages" = huge ]; then
        need=$(as_pg "${bin[$b]}/postgres" -D "${dir[$b]}/pg" -C shared_memory_size_in_huge_pages)
        echo "  $b: needs $need huge pages; $(grep -E '^HugePages_(Total|Free|Rsvd)' /proc/meminfo | tr -s ' ' | paste -sd' ' -)"
        bench_huge_reserve "$need" || { echo "could not reserve $need huge pages (vm.nr_hugepages: $(cat /proc/sys/vm/nr_hugepages))" >&2; return 1; }
        echo "huge_pages = on" >> "${dir[$b]}/pg/postgresql.conf"
    else
        echo "huge_pages = off" >> "${dir[$b]}/pg/postgresql.conf"
    fi
    as_pg "${bin[$b]}/pg_ctl" -D "${dir[$b]}/pg" -l "${dir[$b]}/server.log" -w start >/dev/null \
        || { tail -5 "${dir[$b]}/server.log" >&2; return 1; }
    pm=$(head -1 "${dir[$b]}/pg/postmaster.pid")
    echo "  $b: instance on port ${port[$b]}, huge_pages = $(psql_ "$b" -At -c 'SHOW huge_pages')," \
         "$(huge_mb "$pm") MB of the postmaster's memory in 2 MB pages"
    psql_ "$b" -v ON_ERROR_STOP=1 -f "$bench/setup.sql" >/dev/null 2>&1
    local k
    for ((k = 0; k < 9000; k += 500)); do
        psql_ "$b" -c "SELECT count(*) FROM generate_series($k + 1, $k + 500) i,
                    LATERAL quota.quota_charge('model-2', 1200, 300, 'prime-' || i,
                        user_id => 'student' || i, pool => 'Students Pool')" >/dev/null
    done
    psql_ "$b" -c "VACUUM ANALYZE" -c CHECKPOINT >/dev/null
}

cpu_ticks() { awk '/^cpu /{print $2 + $3, $4 + $7 + $8, $5 + $6; exit}' /proc/stat; }
hz=$(getconf CLK_TCK)
# The CPU time of one instance so far, in clock ticks: its postmaster's,
# its live children's, and that of its exited children (which the
# postmaster has reaped: cutime + cstime).  Unlike TPS this hardly depends
# on what else the shared machine runs.
server_ticks() {
    local pm pids
    pm=$(head -1 "${dir[$1]}/pg/postmaster.pid")
    pids=$(pgrep -P "$pm" | sed 's|.*|/proc/&/stat|')
    # the command name (field 2) is in parentheses and has no blanks here
    awk -v pm="$pm" '{ t += $14 + $15; if ($1 == pm) t += $16 + $17 } END { print t }' \
        "/proc/$pm/stat" $pids 2>/dev/null
}
# Wait until the clients' backends have exited (and been reaped).
backends_gone() {
    local pm
    pm=$(head -1 "${dir[$1]}/pg/postmaster.pid")
    while pgrep -P "$pm" -f '^postgres: postgres postgres' >/dev/null; do sleep 0.1; done
}
# tps BUILD WORKLOAD SECONDS: "TPS user_us system_us idle% server_us": the
# machine's CPU per transaction as run.sh prints it, and the instance's own
tps() {
    local b=$1 w=$2 s=$3 out c0 c1 s0 s1
    psql_ "$b" -c VACUUM >/dev/null
    backends_gone "$b"
    c0=$(cpu_ticks); s0=$(server_ticks "$b")
    out=$(as_pg "${bin[$b]}/pgbench" -n -M prepared -c "$clients" -j 2 -T "$s" \
        -f "$bench/$w.sql" -h "${dir[$b]}" -p "${port[$b]}" -U postgres postgres 2>&1)
    c1=$(cpu_ticks)
    backends_gone "$b"
    s1=$(server_ticks "$b")
    awk -v c0="$c0" -v c1="$c1" -v s0="$s0" -v s1="$s1" -v hz="$hz" '
        /^number of transactions actually processed/ { n = $6 }
        /^tps = / { t = $3 }
        END {
            if (n == 0) { print "pgbench failed" > "/dev/stderr"; exit 1 }
            split(c0, a); split(c1, b)
            u = b[1] - a[1]; s = b[2] - a[2]; i = b[3] - a[3]
            printf "%.0f %.0f %.0f %.0f %.0f\n", t, u * 1e6 / hz / n, s * 1e6 / hz / n, 100 * i / (u + s + i), (s1 - s0) * 1e6 / hz / n
        }' <<< "$out" || { echo "$out" >&2; return 1; }
}

median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk "BEGIN{printf \"%.3f\", $1 / $2}"; }

summary=()
declare -A m=() ma=() mc=() mu=()
for pages in $pages_list; do
    say "$pages pages: starting both instances (load $(load))"
    port[before]=$port0; port[after]=$((port0 + 1))
    for b in "${builds[@]}"; do start "$b" "$pages"; done
    grep -E '^HugePages_(Total|Free|Rsvd)' /proc/meminfo | tr -s ' ' | paste -sd' ' - | sed 's/^/  /'
    say "$pages pages: warm-up, $warmup s per workload and build (not counted)"
    for b in "${builds[@]}"; do
        for w in a_insert c_shared; do
            echo "  warm-up: $b $w $(tps "$b" "$w" "$warmup" | cut -d' ' -f1) tps"
        done
    done
    say "$pages pages: $rounds rounds, $clients clients, $secs s per run, -M prepared"
    declare -A ca=() atps=() ctps=() cpuca=()
    for b in "${builds[@]}"; do ca[$b]=; atps[$b]=; ctps[$b]=; cpuca[$b]=; done
    for ((r = 1; r <= rounds; r++)); do
        if ((r % 2 == 1)); then order=(before after); else order=(after before); fi
        l0=$(load)
        line=""
        for b in "${order[@]}"; do
            read -r ta ua sa ia va <<< "$(tps "$b" a_insert "$secs")"
            read -r tc uc sc ic vc <<< "$(tps "$b" c_shared "$secs")"
            x=$(ratio "$tc" "$ta"); y=$(ratio "$va" "$vc")
            ca[$b]+="$x "; atps[$b]+="$ta "; ctps[$b]+="$tc "; cpuca[$b]+="$y "
            line+=$(printf '%s A %s tps (server %s us; machine %s+%s us, %s%% idle), C %s tps (server %s us; machine %s+%s us, %s%% idle), C/A %s, server CPU A/C %s; ' \
                "$b" "$ta" "$va" "$ua" "$sa" "$ia" "$tc" "$vc" "$uc" "$sc" "$ic" "$x" "$y")
        done
        echo "  round $r: $line""load $l0 -> $(load)"
    done
    for b in "${builds[@]}"; do
        m[$b]=$(tr ' ' '\n' <<< "${ca[$b]}" | grep . | median)
        ma[$b]=$(tr ' ' '\n' <<< "${atps[$b]}" | grep . | median)
        mc[$b]=$(tr ' ' '\n' <<< "${ctps[$b]}" | grep . | median)
        mu[$b]=$(tr ' ' '\n' <<< "${cpuca[$b]}" | grep . | median)
        printf '  %-6s median C/A %.3f (rounds: %s), median A %s tps, C %s tps; median server CPU A/C %.3f (rounds: %s)\n' \
            "$b" "${m[$b]}" "${ca[$b]% }" "${ma[$b]}" "${mc[$b]}" "${mu[$b]}" "${cpuca[$b]% }"
    done
    s=$(printf '%s pages: C/A before %.2f, after %.2f; after/before: C/A %s, A %s, C %s; server CPU A/C before %.2f, after %.2f' "$pages" \
        "${m[before]}" "${m[after]}" "$(ratio "${m[after]}" "${m[before]}")" \
        "$(ratio "${ma[after]}" "${ma[before]}")" "$(ratio "${mc[after]}" "${mc[before]}")" \
        "${mu[before]}" "${mu[after]}")
    echo "  $s"
    summary+=("$s")
    cleanup
done
say "results"
printf '%s\n' "${summary[@]}"
