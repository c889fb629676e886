#!/usr/bin/env bash
# What one charge costs the server, counted (issue 27, item 4): per
# transaction of the hot-pool charge (c_shared.sql) and of the plain insert
# (a_insert.sql), the calls of PostgreSQL's dynahash look-up, its lightweight
# and heavyweight lock acquisitions and its spinlock waits; then where the
# CPU goes (perf record -e cpu-clock: this VM has no hardware counters).
#
#   bash test/bench/charge-counts.sh [LABEL=BINDIR ...]
#
# Each LABEL=BINDIR is a PostgreSQL installation with quota installed in it
# (test/bench/private-build.sh prints one); several are measured one after
# the other in one invocation.  Without arguments: the installation of
# common.sh (QUOTA_PG_BIN, else the system's), whatever quota it holds:
# nothing is built or installed here.  Runs as root (perf, uprobes), the
# servers as postgres.  Small pages unless QUOTA_BENCH_HUGE_PAGES=on.
#
# Counting: uprobes (perf probe -x BINDIR/postgres FUNC) on function entry,
# which needs no debuginfo, only the symbols of the dynamic symbol table
# (nm -D).  A uprobe fires in every process that runs that binary, so
# `perf stat -a` counts the whole machine: the pgbench backend and this
# instance's background processes (autovacuum is off; the others wake a
# few times a second).  The binary must be one no other server runs (a
# private copy, private-build.sh): the script says when it is not.  (An
# earlier version counted `perf stat -p POSTMASTER`, through counters
# inherited at fork: on the loaded machine it lost a whole backend's counts
# in some runs.)  A run with fewer than 5 heavyweight locks per transaction
# lost counts and is run again (up to 3 times).
# Workloads: QUOTA_COUNT_WORKLOADS (default "a_insert c_shared"; c_limited
# is the pool with caps and both rate limits).
# One client runs N1 and then N2 transactions (QUOTA_COUNT_N1=1000,
# QUOTA_COUNT_N2=5000); the count per transaction is the difference over
# N2 - N1, so the connection's start and end drop out.  Spinlock waits
# (s_lock: a spinlock found taken; perform_spin_delay: each spin after
# that) only happen under contention: they are counted again with
# QUOTA_PROFILE_CLIENTS clients running N1 and N2 transactions each.  Calls made inline
# are not seen (hash_search reaches hash_search_with_hash_value by a jump,
# LockAcquire LockAcquireExtended likewise: both are counted).
#
# Profile: QUOTA_PROFILE_CLIENTS (16) clients for QUOTA_PROFILE_SECONDS
# (10) s per workload, pgbench run under `perf record -e cpu-clock -F 999
# -a -g` (the whole machine), its transactions counted by pgbench; the
# samples are split into
# the instance's processes (postmaster and its children: by DSO), pgbench,
# idle and everything else on the machine, in CPU microseconds per
# transaction; then the top 15 symbols of the instance and of quota.so.
# The perf data and reports stay in QUOTA_COUNT_OUT (default a new
# /tmp/m27-counts.XXXXXX).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

[ "$(id -u)" -eq 0 ] || { echo "run as root (perf probe, perf record -a)" >&2; exit 1; }
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 1; }

n1=${QUOTA_COUNT_N1:-1000}
n2=${QUOTA_COUNT_N2:-5000}
psecs=${QUOTA_PROFILE_SECONDS:-10}
pclients=${QUOTA_PROFILE_CLIENTS:-16}
port=${QUOTA_COUNT_PORT:-55510}
export QUOTA_BENCH_HUGE_PAGES=${QUOTA_BENCH_HUGE_PAGES:-off}
out=${QUOTA_COUNT_OUT:-$(mktemp -d /tmp/m27-counts.XXXXXX)}
mkdir -p "$out"
chmod 755 "$out"
bench=$QUOTA_ROOT/test/bench
read -r -a workloads <<< "${QUOTA_COUNT_WORKLOADS:-a_insert c_shared}"
# the probes: event name, function
probes=(hash=hash_search_with_hash_value lwlock=LWLockAcquire
        lwlock_cond=LWLockConditionalAcquire lock=LockAcquireExtended
        s_lock=s_lock spin_delay=perform_spin_delay)
group=qcount$$

builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=("installed=$PG_BIN")

remove_probes() { perf probe -q -d "$group:*" >/dev/null 2>&1 || true; }
trap remove_probes EXIT

load() { awk '{print $1, $2, $3}' /proc/loadavg; }

# Count probes per transaction: count WORKLOAD CLIENTS EVENT...
# Each client runs N1, then (a new connection) N2 transactions.
count() {
    local w=$1 c=$2 pm n f evs="" p
    shift 2
    pm=$(head -1 "$BENCH_DIR/pg/postmaster.pid")
    for p in "$@"; do evs+="${evs:+,}$group:$p"; done
    for n in "$n1" "$n2"; do
      local try
      for try in 1 2 3; do
        f=$out/$label.$w.c$c.$n.stat
        # the postmaster's children before: the background processes
        local before
        before=$(pgrep -P "$pm" | sort | paste -sd' ' -)
        # started with its counters off, switched on by a command that
        # perf acknowledges: no backend may start before they count (a
        # fixed sleep lost whole runs on the loaded machine)
        rm -f "$out/ctl" "$out/ack"
        mkfifo "$out/ctl" "$out/ack"
        perf stat -x, -o "$f" -e "$evs" -D -1 --control "fifo:$out/ctl,$out/ack" -a 2>/dev/null &
        local perfpid=$! ctl ack reply=
        exec {ctl}<>"$out/ctl" {ack}<>"$out/ack"
        echo enable >&"$ctl"
        read -r -t 60 -u "$ack" reply || true
        exec {ctl}>&- {ack}<&-
        [ "$reply" = ack ] || { echo "perf stat did not start counting" >&2; kill "$perfpid"; return 1; }
        as_pg pgbench -n -M prepared -c "$c" -j "$(( c > 1 ? 2 : 1 ))" -t "$n" -f "$bench/$w.sql" \
            -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres postgres > "$f.pgbench" 2>&1 \
            || { cat "$f.pgbench" >&2; return 1; }
        # count the backends' exits too: wait until the postmaster has no
        # other children than before (no connection may be opened to ask:
        # its start would be counted), 30 s at most
        local t
        for ((t = 0; t < 150; t++)); do
            [ "$(pgrep -P "$pm" | sort | paste -sd' ' -)" != "$before" ] || break
            sleep 0.2
        done
        sleep 0.5
        kill -INT "$perfpid"
        wait "$perfpid" || true
        # every transaction of either workload takes 9 or more heavyweight
        # locks: fewer than 5 means the run lost counts; run it again
        if awk -F, -v min=$((5 * c * n)) '$3 ~ /:lock$/ { ok = ($1 + 0 >= min) } END { exit !ok }' "$f"; then
            break
        fi
        echo "  ($w, $c client(s), $n transactions: too few counted, run again)" >&2
      done
    done
    awk -F, -v n1="$((c * n1))" -v n2="$((c * n2))" -v w="$w" -v c="$c" -v f1="$out/$label.$w.c$c.$n1.stat" '
        $3 ~ /:/ { split($3, e, ":"); v = $1 + 0
                   if (FILENAME == f1) a[e[2]] = v; else { b[e[2]] = v; order[++k] = e[2] } }
        END {
            printf "  %-9s %2d client%s", w, c, (c > 1 ? "s" : " ")
            for (i = 1; i <= k; i++) printf " %s %.2f", order[i], (b[order[i]] - a[order[i]]) / (n2 - n1)
            printf "   (per connection:"
            for (i = 1; i <= k; i++) { x = (a[order[i]] - n1 * (b[order[i]] - a[order[i]]) / (n2 - n1)) / c; printf " %.0f", x }
            printf ")"
            # contention does not grow in step with N: the longer run alone
            if (c > 1) { printf "; the longer run alone:"; for (i = 1; i <= k; i++) printf " %s %.2f", order[i], b[order[i]] / n2 }
            printf "\n"
            for (i = 1; i <= k; i++) if (a[order[i]] - n1 * (b[order[i]] - a[order[i]]) / (n2 - n1) < -c) bad = 1
            if (bad && c == 1) print "  (a negative count per connection: a run lost counts, do not trust this line)"
        }' "$out/$label.$w.c$c.$n1.stat" "$out/$label.$w.c$c.$n2.stat"
}

# Profile one workload: profile WORKLOAD.
profile() {
    local w=$1 pm data=$out/$label.$w.perf.data lister tx tps pids
    pm=$(head -1 "$BENCH_DIR/pg/postmaster.pid")
    bench_psql -c VACUUM >/dev/null
    # the instance's processes, listed while the clients are connected
    (sleep 2; ps -o pid= --ppid "$pm") > "$out/$label.$w.pids" &
    lister=$!
    perf record -q -e cpu-clock -F 999 -a -g -o "$data" -- \
        runuser -u "$PG_USER" -- env PATH="$PATH" pgbench -n -M prepared -c "$pclients" -j 2 \
        -T "$psecs" -f "$bench/$w.sql" -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres postgres \
        > "$out/$label.$w.profile.pgbench" 2>&1 || { cat "$out/$label.$w.profile.pgbench" >&2; return 1; }
    wait "$lister" || true
    pids=$(tr -d ' ' < "$out/$label.$w.pids" | paste -sd, -)",$pm"
    tx=$(awk '/^number of transactions actually processed/ {print $6}' "$out/$label.$w.profile.pgbench")
    tps=$(awk '/^tps = / {printf "%.0f", $3}' "$out/$label.$w.profile.pgbench")
    perf report -i "$data" --no-children -g none --sort pid,dso,sym -F sample,pid,dso,sym \
        --field-separator=@ --stdio -q 2>/dev/null > "$out/$label.$w.samples"
    awk -F@ -v tx="$tx" -v hz=999 -v pids="$pids" -v w="$w" -v tps="$tps" -v secs="$psecs" \
        -v tops="$out/$label.$w.top" '
        BEGIN { n = split(pids, p, ","); for (i = 1; i <= n; i++) mine[p[i]] = 1 }
        function trim(x) { gsub(/^ +| +$/, "", x); return x }
        NF >= 4 {
            s = $1 + 0; pc = trim($2); dso = trim($3); sym = trim($4)
            id = pc; sub(/:.*/, "", id); id += 0
            all += s
            if (id == 0) { idle += s; next }
            if (!(id in mine)) { if (pc ~ /:pgbench/) bench += s; else other += s; next }
            inst += s
            if (dso ~ /kallsyms|kernel/) kd += s; else if (dso == "postgres") pd += s
            else if (dso == "quota.so") qd += s; else if (dso ~ /^libc/) ld += s; else od += s
            bysym[dso "@" sym] += s
            if (dso == "quota.so") qsym[sym] += s
        }
        END {
            us = 1e6 / hz / tx
            printf "  %-9s %d tps, %d transactions in %d s; CPU us per transaction (all CPUs, perf samples):\n", w, tps, tx, secs
            printf "            the instance %.0f, pgbench %.0f, idle %.0f, other processes %.0f (total %.0f)\n", inst * us, bench * us, idle * us, other * us, all * us
            printf "            the instance by DSO: postgres %.1f, quota.so %.1f, kernel %.1f, libc %.1f, other %.1f\n", pd * us, qd * us, kd * us, ld * us, od * us
            printf "  %s: top 15 symbols of the instance (us per transaction, %% of the instance)\n", w > tops
            for (k in bysym) print bysym[k] "@" k | "sort -t@ -k1nr | head -15 > " tops ".1"
            close("sort -t@ -k1nr | head -15 > " tops ".1")
            while ((getline l < (tops ".1")) > 0) { split(l, f, "@"); printf "    %6.1f %5.1f%%  %-18s %s\n", f[1] * us, 100 * f[1] / inst, f[2], f[3] > tops }
            printf "  %s: top 15 symbols of quota.so (us per transaction, %% of the instance); quota.so in all: %.1f us\n", w, qd * us > tops
            for (k in qsym) print qsym[k] "@" k | "sort -t@ -k1nr | head -15 > " tops ".2"
            close("sort -t@ -k1nr | head -15 > " tops ".2")
            while ((getline l < (tops ".2")) > 0) { split(l, f, "@"); printf "    %6.1f %5.1f%%  %s\n", f[1] * us, 100 * f[1] / inst, f[2] > tops }
        }' "$out/$label.$w.samples"
}

for b in "${builds[@]}"; do
    label=${b%%=*}
    bin=${b#*=}
    [ -x "$bin/postgres" ] || { echo "$bin/postgres: no such program" >&2; exit 1; }
    (
        PG_BIN=$bin; export PG_CONFIG=$bin/pg_config PATH="$bin:$PATH"
        what=$(cat "$bin/../../../../../QUOTA_BUILD" 2>/dev/null || echo "quota as installed in $($bin/pg_config --pkglibdir)")
        say "$label: $what"
        : > "$out/$label.summary"
        bench_instance "$port" "max_wal_size = '64GB'" "checkpoint_timeout = '1d'" "autovacuum = off"
        bench_psql -v ON_ERROR_STOP=1 -f "$bench/setup.sql" >/dev/null
        # every student's profile and counters built, as run.sh does, and
        # each workload run once (not counted)
        for ((k = 0; k < 9000; k += 500)); do
            bench_psql -c "SELECT count(*) FROM generate_series($k + 1, $k + 500) i,
                        LATERAL quota.quota_charge('model-2', 1200, 300, 'prime-' || i,
                            user_id => 'student' || i, pool => 'Students Pool')" >/dev/null
            # c_limited's members too: their slots, cap counters and windows
            [[ " ${workloads[*]} " != *" c_limited "* ]] ||
                bench_psql -c "SELECT count(*) FROM generate_series($k + 1, $k + 500) i,
                        LATERAL quota.quota_charge('model-2', 1200, 300, 'prime-l-' || i,
                            user_id => 'student' || i, pool => 'Students Pool (limited)')" >/dev/null
        done
        for w in "${workloads[@]}"; do
            as_pg pgbench -n -M prepared -c "$pclients" -j 2 -T 3 -f "$bench/$w.sql" \
                -h "$BENCH_DIR" -p "$BENCH_PORT" -U postgres postgres >/dev/null 2>&1
        done

        say "$label: CPU per transaction, $pclients clients, perf record -e cpu-clock -F 999 -a -g (load before: $(load))"
        for w in "${workloads[@]}"; do
            profile "$w" | tee -a "$out/$label.summary"
        done
        echo "  (load after: $(load))"
        for w in "${workloads[@]}"; do cat "$out/$label.$w.top"; done

        say "$label: calls per transaction, 1 client, $n1 and $n2 transactions (load before: $(load))"
        remove_probes
        for p in "${probes[@]}"; do
            perf probe -q -x "$bin/postgres" -a "$group:$p" >/dev/null 2>&1 \
                || { echo "perf probe -x $bin/postgres $p failed:" >&2; perf probe -x "$bin/postgres" -a "$group:$p" >&2 || true; exit 1; }
        done
        bench_psql -c VACUUM >/dev/null
        pm=$(head -1 "$BENCH_DIR/pg/postmaster.pid")
        mine=" $pm $(pgrep -P "$pm" | paste -sd' ' -) "
        others=$(for d in /proc/[0-9]*; do
                     [ "$(readlink "$d/exe" 2>/dev/null)" = "$(readlink -f "$bin/postgres")" ] || continue
                     [[ "$mine" == *" ${d#/proc/} "* ]] || echo "${d#/proc/}"
                 done | paste -sd' ' -)
        [ -z "$others" ] || echo "  WARNING: other processes run $bin/postgres ($others): their calls are counted too; use a private copy (private-build.sh)"
        local_events=()
        for p in "${probes[@]}"; do local_events+=("${p%%=*}"); done
        for w in "${workloads[@]}"; do count "$w" 1 "${local_events[@]}" | tee -a "$out/$label.summary"; done
        # spinlocks are waited for only under contention: the same with
        # QUOTA_PROFILE_CLIENTS clients, only the spin probes (cheap: they
        # fire only when a spinlock was found taken) and the heavyweight
        # locks
        echo "  spinlock waits with $pclients clients, $n1 and $n2 transactions each (load: $(load))"
        for w in "${workloads[@]}"; do count "$w" "$pclients" s_lock spin_delay lock | tee -a "$out/$label.summary"; done
        remove_probes
        echo "  (load after: $(load))"
    )
done
if [ ${#builds[@]} -gt 1 ]; then
    say "summary"
    for b in "${builds[@]}"; do
        echo "${b%%=*}:"
        cat "$out/${b%%=*}.summary"
    done
fi
echo
echo "perf data and reports: $out"
