#!/usr/bin/env bash
# Build the credits text fuzz target with libFuzzer, AddressSanitizer and
# UBSan (clang, from Debian's packages) and run it for a bounded time.
#
#   bash test/fuzz/run.sh             # 30 s
#   QUOTA_FUZZ_SECONDS=600 bash test/fuzz/run.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
secs=${QUOTA_FUZZ_SECONDS:-30}
pg_config=${PG_CONFIG:-pg_config}
out=$(mktemp -d /tmp/quota-fuzz.XXXXXX)
trap 'rm -rf "$out"' EXIT

clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Wno-ignored-attributes \
    -I"$root/src" -I"$("$pg_config" --includedir-server)" \
    "$root/src/credits_text.c" "$root/test/fuzz/credits_fuzz.c" -o "$out/credits_fuzz"
mkdir "$out/corpus"
cp "$root"/test/fuzz/corpus/* "$out/corpus/"
status=0
(cd "$out" && ./credits_fuzz -max_total_time="$secs" -max_len=64 -print_final_stats=1 corpus) \
    >"$out/log" 2>&1 || status=$?
grep -E '^stat::number_of_executed_units|^==[0-9]+==ERROR|^SUMMARY|Test unit written' "$out/log" || true
if [ "$status" -ne 0 ]; then
    tail -n 40 "$out/log"
    echo "fuzz: FAILED (libFuzzer exit status $status)"
    exit 1
fi
echo "fuzz: no failure in $secs s"
