#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ one after the other, niced, and
# prints executions and crashes per target.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]      (default: 60 s, every target)
#   FUZZ_RUNS=10000000 bash scripts/fuzz.sh 0 handshake   a number of executions instead
#   FUZZ_SEED=1 ...                                  libFuzzer's -seed (CI sets 1)
#
# New inputs go to fuzz/corpus/TARGET (not committed); the committed seeds
# in fuzz/seeds/TARGET are read, never written. A crash leaves its input in
# fuzz/artifacts/TARGET/ and makes the script exit non-zero after the other
# targets ran: copy it to fuzz/regressions/TARGET/ with the fix, and
# tests/fuzz_seeds.rs replays it from then on.
#
# Built without a sanitizer (the crate forbids unsafe code) but with debug
# assertions and overflow checks (-a). The first build takes a few minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//')
fi
seed="${FUZZ_SEED:-0}"
runs="${FUZZ_RUNS:--1}"

nice -n 19 cargo +nightly fuzz build -s none -a

failed=()
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  max_len=4096
  [ "$target" = h2c_preface ] && max_len=20000
  log="$(mktemp)"
  echo "=== fuzz $target: ${seconds}s, runs $runs, seed $seed"
  status=0
  nice -n 19 cargo +nightly fuzz run -s none -a "$target" "corpus/$target" "seeds/$target" -- \
    -seed="$seed" -max_total_time="$seconds" -runs="$runs" -max_len="$max_len" \
    -dict=http.dict -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  execs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo '?')"
  secs="$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -oE 'in [0-9]+' | grep -oE '[0-9]+' || echo '?')"
  crashes="$(find "artifacts/$target" -type f | wc -l)"
  # The panic and its message, libFuzzer's verdict, where the input went.
  grep -A1 'panicked at' "$log" | head -n 6 || true
  grep -E '^(Done [0-9]+ runs|SUMMARY|artifact_prefix|Test unit written)' "$log" || true
  rm -f "$log"
  summary+=("$(printf '%-16s %12s execs %6s s  exit %3s  artifacts %s' "$target" "$execs" "$secs" "$status" "$crashes")")
  [ "$status" -eq 0 ] || failed+=("$target")
done

echo
echo "=== fuzz summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
