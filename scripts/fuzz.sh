#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ for a while each (libFuzzer, AddressSanitizer), one
# after the other: the tool for campaigns. CI's quick run is scripts/fuzz-ci.sh.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS (default 30) is the fuzzing time per target, not counting its build; TARGET
# defaults to every target of `cargo fuzz list`. Installs cargo-fuzz if it is missing and
# works on the stable toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags).
#
# Each target reads its committed seeds (fuzz/corpus/TARGET, never written to) and kept
# crashes (fuzz/regressions/TARGET), plus a
# scratch corpus (fuzz/target/fuzz-corpus/TARGET, kept between runs, git-ignored) that
# receives what libFuzzer finds. The dictionary is fuzz/dict/<prefix>.dict, the prefix
# being the part of the name before the first `_` (eio_packet -> engineio.dict via the
# table below). Logs: fuzz/target/fuzz-logs/TARGET.log.
#
# Exit status: 0 when every target ran its time without a crash; 1 when one crashed (the
# artifact path is printed: copy it to fuzz/regressions/TARGET/ and write a unit test),
# or failed to build or start; 2 on a usage error.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=fuzz-lib.sh
. "$root/scripts/fuzz-lib.sh"
fuzz_seconds fuzz.sh "$@"
[ "$secs_given" = 1 ] && shift

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

started=$SECONDS
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked || { echo "fuzz.sh: cannot install cargo-fuzz" >&2; exit 1; }
fi
install_secs=$((SECONDS - started))

cd "$root/fuzz" || exit 1

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(fuzz_targets)
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets in fuzz/Cargo.toml" >&2
  exit 1
fi
fuzz_check_targets "${targets[@]}"

mkdir -p target/fuzz-logs
# Build every target first, so that the timings below are separate.
started=$SECONDS
: >target/fuzz-logs/build.log
for t in "${targets[@]}"; do
  if ! cargo fuzz build "$t" >>target/fuzz-logs/build.log 2>&1; then
    echo "fuzz.sh: building $t failed (fuzz/target/fuzz-logs/build.log):" >&2
    tail -n 20 target/fuzz-logs/build.log >&2
    exit 1
  fi
done
build_secs=$((SECONDS - started))
started=$SECONDS
failed=()
summary=()
for t in "${targets[@]}"; do
  seeds=corpus/$t
  work=target/fuzz-corpus/$t
  log=target/fuzz-logs/$t.log
  mkdir -p "$work" "artifacts/$t"
  [ -d "$seeds" ] || echo "fuzz.sh: warning: no seed corpus $seeds" >&2
  args=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048)
  dict=$(fuzz_dict "$t")
  [ -n "$dict" ] && args+=(-dict="$dict")
  corpora=("$work")
  [ -d "$seeds" ] && corpora+=("$seeds")
  [ -d "regressions/$t" ] && corpora+=("regressions/$t")
  echo "=== $t: ${secs}s (corpus ${corpora[*]}${dict:+, dict ${dict#"$root"/}})"
  cargo fuzz run "$t" "${corpora[@]}" -- "${args[@]}" >"$log" 2>&1
  rc=$?
  if fuzz_report "$t" "$log" "$rc" "cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $t"; then
    summary+=("$FUZZ_LINE ok")
  else
    failed+=("$t")
    summary+=("$FUZZ_LINE")
  fi
done

echo "=== summary (${secs}s per target; cargo-fuzz install ${install_secs}s, build ${build_secs}s, runs $((SECONDS - started))s)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashed or failed: ${failed[*]}" >&2
  exit 1
fi
