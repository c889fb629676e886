#!/usr/bin/env bash
# The test command: install what is missing, build, then run the regression,
# isolation and TAP suites on temporary instances; non-zero on any failure.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_packages
# warnings are errors in the test build: rebuild every object with -Werror
QUOTA_COPT=${QUOTA_COPT:--Werror}
make -C "$QUOTA_ROOT" -s PG_CONFIG="$PG_BIN/pg_config" clean >/dev/null
build_install

work=$(private_copy)
trap 'rm -rf "$work"' EXIT
say "test tree: $work"

passed=0
failed=0
status=0
failures=()
# a failed assertion in a TAP test's own log (after its time stamp)
tap_not_ok='^(\[[0-9:.]+\]\([0-9.]+s\) )?not ok '

# The failed tests of a suite's log, one line each, for the closing recap:
# a test the runner named, and each "not ok" a TAP test logged.
failed_tests() {
    local name=$1 log=$2
    grep -E '^not ok |\.\.\. FAILED|  FAILED|\(Wstat: |Failed tests?:' "$log" |
        sed "s/^/$name: /" || true
    grep -H -E "$tap_not_ok" \
        "$work"/tmp_check/log/regress_log_* 2>/dev/null |
        sed -E "s|^.*/regress_log_([^:]*):(\[[^]]*\]\([^)]*\) )?|$name: \1: |" | head -20 || true
}

# A TAP test's log around its first failed assertion (the diagnostics
# printed before and after it), or its end when none failed (it died).
log_excerpt() {
    local n
    n=$(grep -n -m1 -E "$tap_not_ok" "$1" | cut -d: -f1)
    if [ -n "$n" ]; then
        sed -n "$(( n > 40 ? n - 40 : 1 )),$(( n + 30 ))p" "$1"
    else
        tail -n 60 "$1"
    fi
}

# The logs of a suite's failed TAP tests: the test's own log (excerpt) and
# its servers' logs (tails); every log's tail when no test is named.
failed_logs() {
    local log=$1 dir=$work/tmp_check/log names name l
    [ -d "$dir" ] || return 0
    names=$( { grep -oE '[0-9]{3}_[A-Za-z0-9_]+\.pl +\(Wstat' "$log" | sed 's/\.pl.*//'
               grep -l -E "$tap_not_ok" "$dir"/regress_log_* 2>/dev/null |
                   sed 's|.*/regress_log_||'; } | sort -u)
    if [ -z "$names" ]; then
        for l in "$dir"/*; do
            if [ -f "$l" ]; then say "$l (tail)"; tail -n 40 "$l"; fi
        done
        return 0
    fi
    for name in $names; do
        for l in "$dir/regress_log_$name" "$dir/${name}"_*.log; do
            [ -f "$l" ] || continue
            case "$l" in
                */regress_log_*) say "$l (excerpt)"; log_excerpt "$l" ;;
                *) say "$l (tail)"; tail -n 20 "$l" ;;
            esac
        done
    done
}

# Run one suite; count its tests from the runner's own summary.
run_suite() {
    local name=$1 target=$2 log="$work/$1.log"
    say "$name suite"
    set +e
    as_pg make -C "$work" -s PG_CONFIG="$PG_BIN/pg_config" "${@:2}" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    local p f
    if [ "$target" = tapcheck ]; then
        p=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\).*/\1/p' "$log" | tail -1)
        f=$(grep -c '^not ok' "$log" || true)
        p=$(( ${p:-0} - f ))
    else
        p=$(grep -cE '^(ok|test|#? *ok) .* ok( |$)|^ok [0-9]+ ' "$log" || true)
        f=$(grep -cE '^not ok |\.\.\. FAILED|  FAILED' "$log" || true)
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ]; then
        status=1
        [ "$f" -gt 0 ] || failed=$((failed + 1))
        for d in "$work/regression.diffs" "$work/test/output_iso/regression.diffs"; do
            if [ -s "$d" ]; then say "$d"; cat "$d"; fi
        done
        failed_logs "$log"
        local t n=${#failures[@]}
        while IFS= read -r t; do failures+=("$t"); done < <(failed_tests "$name" "$log")
        [ "${#failures[@]}" -gt "$n" ] || failures+=("$name: exit $rc")
    fi
}

# the layers of src/ (README "Internals"): no circle, no upward use, a
# header per .c, every file placed (test/scripts/layers.map)
say "structure suite"
if python3 "$QUOTA_ROOT/test/scripts/structure.py" "$QUOTA_ROOT" \
        --layers "$QUOTA_ROOT/test/scripts/layers.map" --check; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    status=1
    failures+=("structure: failed")
fi

run_suite regression regresscheck
run_suite isolation isolationcheck
run_suite tap tapcheck
# the dump-and-restore upgrade from an older major's server (run-major.sh)
if [ -n "${QUOTA_SOURCE_PORT:-}" ]; then
    run_suite cross-major tapcheck PROVE_TESTS='test/major/*.pl' \
        QUOTA_SOURCE_PORT="$QUOTA_SOURCE_PORT"
fi

# libFuzzer on the credits text form, bounded (QUOTA_FUZZ_SECONDS, default 30)
say "fuzz suite"
if bash "$QUOTA_ROOT/test/fuzz/run.sh"; then
    passed=$((passed + 1))
else
    failed=$((failed + 1))
    status=1
    failures+=("fuzz: failed")
fi

# what failed, last, where a reader of the run's end sees it
if [ "${#failures[@]}" -gt 0 ]; then
    say "failures (PostgreSQL $PG_MAJOR)"
    printf 'failed: %s\n' "${failures[@]}"
fi

say "summary (PostgreSQL $PG_MAJOR, $SECONDS s)"
echo "$passed passed, $failed failed"
exit $status
