#!/usr/bin/env bash
# CI smoke run of the fuzz targets: every target of fuzz/ for a short time, two at a time,
# built with plain cargo and no sanitizer (test.sh's `fuzz` step).
#
#   scripts/fuzz-ci.sh [SECONDS] [TARGET...]
#
# SECONDS (default 30) is the fuzzing time per target; TARGET defaults to every [[bin]] of
# fuzz/Cargo.toml. FUZZ_JOBS (default 2) targets run at once.
#
# Why not scripts/fuzz.sh: installing cargo-fuzz costs ~4 min and the AddressSanitizer
# build of the fuzz project 9-17 min on a 2-core machine. This script needs neither: it
# passes cargo the flags `cargo fuzz build` would (libFuzzer's coverage instrumentation,
# `--cfg fuzzing`, and debug assertions with overflow checks on top) but no -Csanitizer,
# keeps the default codegen units (cargo-fuzz forces 1, which builds slower), compiles
# the dependencies the harnesses barely run unoptimized (fuzz/ci-profile.toml), and
# builds into its own target dir, fuzz/target/ci. Safe Rust has no memory errors for ASan to
# find; what this run detects is a panic (the fuzz_target! hook aborts: libFuzzer's
# "deadly signal"), an overflow or debug assertion, a unit slower than 10 s, or RSS over
# 2 GB. Use scripts/fuzz.sh for long campaigns.
#
# Cost, measured on the 2-core dev machine shared with other builds (cold: fresh
# fuzz/target/ci): see fuzz/README.md, "CI smoke run".
#
# Each target reads a fresh scratch corpus (fuzz/target/ci/corpus/TARGET, emptied at the
# start, so every run starts from the same inputs), the committed seeds (fuzz/corpus/TARGET)
# and the kept crashes (fuzz/regressions/TARGET), with its dictionary (fuzz/dict). Logs:
# fuzz/target/ci/logs/TARGET.log; crash inputs: fuzz/target/ci/artifacts/TARGET/.
#
# Exit status: 0 when every target ran its time without a crash; 1 when one crashed (the
# artifact path, the input in base64 and the command to reproduce are printed) or the
# build failed; 2 on a usage error.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=fuzz-lib.sh
. "$root/scripts/fuzz-lib.sh"

fuzz_seconds fuzz-ci.sh "$@"
[ "$secs_given" = 1 ] && shift
jobs_max=${FUZZ_JOBS:-2}
case $jobs_max in
  '' | *[!0-9]* | 0) echo "fuzz-ci.sh: FUZZ_JOBS must be a positive number" >&2; exit 2 ;;
esac

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(fuzz_targets)
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz-ci.sh: no fuzz targets in fuzz/Cargo.toml" >&2
  exit 1
fi
fuzz_check_targets "${targets[@]}"

# libfuzzer-sys compiles libFuzzer (C++) in its build script.
if ! command -v "${CXX:-c++}" >/dev/null 2>&1; then
  echo "fuzz-ci.sh: no C++ compiler (${CXX:-c++}) to build libFuzzer; install one" \
    "(Debian: apt-get install g++) or set CXX" >&2
  exit 1
fi
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
triple=$(rustc -vV | sed -n 's/^host: //p')
ci=$root/fuzz/target/ci
bin_dir=$ci/$triple/release
mkdir -p "$ci/logs"

# The instrumentation flags of cargo-fuzz 0.13 (src/project.rs), without the sanitizer.
# --target makes cargo keep these flags away from build scripts and proc macros.
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
flags+=" -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares"
flags+=" -Cllvm-args=-simplifycfg-branch-fold-threshold=0"
case $triple in *-linux-*) flags+=" -Cllvm-args=-sanitizer-coverage-stack-depth" ;; esac
flags+=" --cfg fuzzing -Cdebug-assertions -Coverflow-checks"

started=$SECONDS
echo "=== building ${#targets[@]} fuzz targets (no sanitizer) into fuzz/target/ci"
bins=()
for t in "${targets[@]}"; do bins+=(--bin "$t"); done
if ! RUSTFLAGS="$flags ${RUSTFLAGS:-}" cargo build --manifest-path "$root/fuzz/Cargo.toml" \
  --locked --release --target "$triple" --target-dir "$ci" \
  --config "$root/fuzz/ci-profile.toml" "${bins[@]}" >"$ci/logs/build.log" 2>&1; then
  echo "fuzz-ci.sh: building the fuzz targets failed (fuzz/target/ci/logs/build.log):" >&2
  tail -n 30 "$ci/logs/build.log" >&2
  exit 1
fi
build_secs=$((SECONDS - started))
echo "=== built in ${build_secs}s"

# run_one TARGET: one libFuzzer run; its exit status goes to logs/TARGET.rc.
run_one() {
  local t=$1 work=$ci/corpus/$1 dict corpora
  rm -rf "$work" "$ci/artifacts/$t"
  mkdir -p "$work" "$ci/artifacts/$t"
  corpora=("$work")
  [ -d "$root/fuzz/corpus/$t" ] && corpora+=("$root/fuzz/corpus/$t")
  [ -d "$root/fuzz/regressions/$t" ] && corpora+=("$root/fuzz/regressions/$t")
  args=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
    -artifact_prefix="$ci/artifacts/$t/")
  dict=$(fuzz_dict "$t")
  [ -n "$dict" ] && args+=(-dict="$dict")
  # libFuzzer stops itself at max_total_time; the outer timeout only guards a wedged run.
  timeout --kill-after=10 $((secs + 120)) "$bin_dir/$t" "${args[@]}" "${corpora[@]}" \
    >"$ci/logs/$t.log" 2>&1
  echo $? >"$ci/logs/$t.rc"
}

started=$SECONDS
echo "=== fuzzing ${#targets[@]} targets, ${secs}s each, $jobs_max at a time"
for t in "${targets[@]}"; do
  rm -f "$ci/logs/$t.rc"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
  echo "--- $t"
  run_one "$t" &
done
wait
run_secs=$((SECONDS - started))

failed=()
for t in "${targets[@]}"; do
  rc=$(cat "$ci/logs/$t.rc" 2>/dev/null || echo 1)
  fuzz_report "$t" "$ci/logs/$t.log" "$rc" "$bin_dir/$t" || failed+=("$t")
done
echo "=== fuzz-ci: ${secs}s per target, build ${build_secs}s, runs ${run_secs}s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz-ci.sh: crashed: ${failed[*]} (reproduce with the ASan build too:" \
    "cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET ARTIFACT)" >&2
  exit 1
fi
