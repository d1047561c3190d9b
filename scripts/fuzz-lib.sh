# Helpers shared by scripts/fuzz.sh (cargo-fuzz, AddressSanitizer) and scripts/fuzz-ci.sh
# (plain cargo, no sanitizer). Sourced, not run: expects $root (the repository root).

# fuzz_targets: the [[bin]] names of fuzz/Cargo.toml, one per line (the same list as
# `cargo fuzz list`, without needing cargo-fuzz).
fuzz_targets() {
  awk '/^\[\[bin\]\]/ { bin = 1; next }
       /^\[/ { bin = 0 }
       bin && /^name *=/ { gsub(/.*= *"|".*/, ""); print }' "$root/fuzz/Cargo.toml"
}

# fuzz_check_targets TARGET...: exits 2 when a name is not a target.
fuzz_check_targets() {
  local known t
  known=" $(fuzz_targets | tr '\n' ' ') "
  for t in "$@"; do
    case $known in
      *" $t "*) ;;
      *) echo "fuzz: unknown target $t (known:$known)" >&2; exit 2 ;;
    esac
  done
}

# fuzz_dict TARGET: the absolute path of the target's dictionary, chosen by the part of
# its name before the first `_` (eio -> engineio.dict, sio -> socketio.dict, herald ->
# herald.dict); prints nothing when there is none.
fuzz_dict() {
  local prefix=${1%%_*} file
  case $prefix in
    eio) file=dict/engineio.dict ;;
    sio) file=dict/socketio.dict ;;
    *) file=dict/$prefix.dict ;;
  esac
  if [ -f "$root/fuzz/$file" ]; then echo "$root/fuzz/$file"; fi
}

# fuzz_report TARGET LOG RC REPRODUCE: prints one summary line for a finished run
# (fuzzing seconds, executions, exec/s, coverage, features and corpus from libFuzzer's
# last status line, new units, peak RSS) and, when RC is not 0, what crashed: the panic or sanitizer report, the
# artifact path, the input in base64 and REPRODUCE followed by the artifact path. Sets
# FUZZ_LINE to the summary line. Returns RC.
fuzz_report() {
  local t=$1 log=$2 rc=$3 reproduce=$4 secs execs rate new rss last cov ft corp artifact
  secs=$(grep -aoE '^Done [0-9]+ runs in [0-9]+ second' "$log" | awk '{print $5}' | tail -1)
  execs=$(grep -aoE 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}' | tail -1)
  rate=$(grep -aoE 'stat::average_exec_per_sec: +[0-9]+' "$log" | awk '{print $2}' | tail -1)
  new=$(grep -aoE 'stat::new_units_added: +[0-9]+' "$log" | awk '{print $2}' | tail -1)
  rss=$(grep -aoE 'stat::peak_rss_mb: +[0-9]+' "$log" | awk '{print $2}' | tail -1)
  last=$(grep -aE '^#[0-9]+.*cov: [0-9]+' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$last" | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' <<<"$last" | awk '{print $2}')
  corp=$(grep -oE 'corp: [0-9]+/[0-9A-Za-z]+' <<<"$last" | awk '{print $2}')
  FUZZ_LINE="$t: secs=${secs:-?} execs=${execs:-?} exec/s=${rate:-?} cov=${cov:-?} ft=${ft:-?} corpus=${corp:-?} new_units=${new:-?} peak_rss_mb=${rss:-?}"
  if [ "$rc" -eq 0 ]; then
    echo "$FUZZ_LINE ok"
    return 0
  fi
  FUZZ_LINE="$FUZZ_LINE FAILED (exit $rc)"
  echo "$FUZZ_LINE"
  grep -a -m1 -E "panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer|==[0-9]+== ERROR" "$log" | sed 's/^/  /'
  grep -a -A3 -m1 "panicked at" "$log" | tail -n +2 | sed 's/^/  /'
  artifact=$(grep -aoE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/^Test unit written to //')
  if [ -n "$artifact" ]; then
    case $artifact in /*) ;; *) artifact=$root/fuzz/${artifact#./} ;; esac
    echo "  artifact: $artifact"
    echo "  input (base64): $(base64 -w0 "$artifact" 2>/dev/null | head -c 400)"
    echo "  reproduce: $reproduce $artifact"
    echo "  then: minimize it, copy it to fuzz/regressions/$t/, fix the bug, add a unit test"
  else
    echo "  no artifact (build or start failure?); log: $log"
    tail -n 20 "$log" | sed 's/^/  | /'
  fi
  return "$rc"
}

# fuzz_seconds SCRIPT [ARG...]: sets `secs` (default 30) from the first ARG when it is a
# number, and `secs_given` to 1 then (the caller shifts it off); exits 2 below 1.
fuzz_seconds() {
  secs=30
  secs_given=0
  case ${2-} in
    '' | *[!0-9]*) ;;
    *) secs=$2; secs_given=1 ;;
  esac
  if [ "$secs" -lt 1 ]; then
    echo "$1: SECONDS must be at least 1" >&2
    exit 2
  fi
}
