#!/usr/bin/env python3
"""Turns bench/results/<run>/results.jsonl into BENCHMARKS.md (see bench/README.md).

    python3 bench/report.py RESULTS_DIR OUT.md

A run whose generator used >= SATURATED of its core, and more of it than the server used
of its own, is discarded (the generator set the pace: the numbers would measure it); a
cell whose runs were all discarded shows the median of the discarded runs, marked
"gen-bound".
"""
import json
import statistics
import sys
import time
from collections import defaultdict

SATURATED = 0.90
SERVERS = ["herald", "socketioxide", "node"]

results_dir, out = sys.argv[1], sys.argv[2]
meta = json.load(open(f"{results_dir}/meta.json"))
runs = defaultdict(list)  # (scenario, server) -> [result]
for line in open(f"{results_dir}/results.jsonl"):
    line = line.strip()
    if not line:
        continue
    try:
        r = json.loads(line)
    except json.JSONDecodeError:
        print(f"report.py: skipping a truncated result line: {line[:80]}", file=sys.stderr)
        continue
    scen, srv = r["label"].split("|")
    # Work per second of server CPU: steadier than rates on a machine shared with others.
    for rate in ("deliveries_per_s", "round_trips_per_s", "connects_per_s"):
        if r.get(rate) and r.get("server_cpu"):
            r[rate.replace("_per_s", "_per_cpu_s")] = r[rate] / r["server_cpu"]
    runs[(scen, srv)].append(r)


def gen_bound(r):
    """The generator set the pace: it used >= SATURATED of its core and more of it than
    the server did of its own (a server at its full core is the bound, whatever the
    generator's share)."""
    g, sv = r.get("gen_cpu") or 0, r.get("server_cpu") or 0
    return g >= SATURATED and g > sv


def kept(scen, srv):
    """(kept runs, discarded runs, failed runs)."""
    rs = runs.get((scen, srv), [])
    ok = [r for r in rs if "error" not in r]
    good = [r for r in ok if not gen_bound(r)]
    bad = [r for r in ok if gen_bound(r)]
    return good, bad, [r for r in rs if "error" in r]


def values(scen, srv, key):
    good, bad, _ = kept(scen, srv)
    use, flag = (good, "") if good else (bad, " gen-bound")
    vs = [v for v in (r.get(key) for r in use) if isinstance(v, (int, float))]
    return vs, flag


def median(scen, srv, key):
    vs, _ = values(scen, srv, key)
    return statistics.median(vs) if vs else None


def fmt(v, unit):
    if v is None:
        return "–"
    if unit == "ms":
        return f"{v / 1000:.1f}" if v >= 10000 else f"{v / 1000:.2f}"
    if unit == "KiB":
        return f"{v / 1024:.1f}"
    if unit == "cores":
        return f"{v:.2f}"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}"


def cell(scen, srv, key, unit):
    vs, flag = values(scen, srv, key)
    good, bad, failed = kept(scen, srv)
    if not vs:
        return "failed" if failed else "–"
    med = statistics.median(vs)
    s = fmt(med, unit)
    if len(vs) > 1:
        s += f" ({fmt(min(vs), unit)}–{fmt(max(vs), unit)})"
    if flag:
        s += " ⚠" + flag
    if failed:
        s += f" [{len(failed)} failed]"
    return s


def ratio(scen, a, b, key, lower_better=False):
    x, y = median(scen, a, key), median(scen, b, key)
    if x is None or y is None or x == 0 or y == 0:
        return "–"
    return f"{x / y:.2f}×"


present = [s for s in SERVERS if any(k[1] == s for k in runs)]
others = [s for s in present if s != "herald"]


def size(scen, key):
    for (sc, _), rs in runs.items():
        for r in rs:
            if sc == scen and key in r:
                return f"{r[key]:,}"
    return "?"


def table(title, scen, rows, note=""):
    if not any((scen, s) in runs for s in present):
        return []
    title = (title.replace("{N}", size(scen, "clients")).replace("{M}", size(scen, "messages"))
             .replace("{RATE}", size(scen, "rate")))
    head = "| metric | " + " | ".join(present) + "".join(f" | herald/{o}" for o in others) + " |"
    lines = [f"### {title}", ""]
    if note:
        lines += [note, ""]
    lines += [head, "|" + "---|" * (1 + len(present) + len(others))]
    for label, key, unit in rows:
        cells = [cell(scen, s, key, unit) for s in present]
        rat = [ratio(scen, "herald", o, key) for o in others]
        lines.append(f"| {label} | " + " | ".join(cells) + "".join(f" | {r}" for r in rat) + " |")
    lines.append("")
    return lines


def held(scen):
    parts = []
    for s in present:
        rs = [r for r in runs.get((scen, s), []) if "error" not in r]
        if rs:
            alive = [r.get("alive", r.get("alive_at_end", r.get("connected", 0))) for r in rs]
            procs = rs[0].get("procs")
            per = "/".join(str(w["connected"]) for w in rs[0].get("workers", []))
            parts.append(f"{s}: {min(alive):,}–{max(alive):,} of {rs[0]['clients']:,} held "
                         f"({procs} generator processes: {per})")
    return "Connections: " + "; ".join(parts) + "." if parts else ""


def gen_note():
    lines = []
    for (scen, srv), rs in sorted(runs.items()):
        good, bad, failed = kept(scen, srv)
        if bad or failed:
            msg = f"- {scen} / {srv}: {len(good)} kept"
            if bad:
                msg += f", {len(bad)} discarded (generator CPU " + ", ".join(f"{r['gen_cpu']:.2f}" for r in bad) + ")"
            if failed:
                msg += f", {len(failed)} failed: " + "; ".join(r["error"][:160] for r in failed)
            lines.append(msg)
    return lines


lat = [("p50 latency (ms)", "p50_us", "ms"), ("p99 latency (ms)", "p99_us", "ms")]
cpu = [("server CPU (cores)", "server_cpu", "cores"), ("generator CPU (cores)", "gen_cpu", "cores")]
eff = [("deliveries per server CPU-second", "deliveries_per_cpu_s", "")]
md = []
when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(meta["started"]))
mins = (meta["finished"] - meta["started"]) / 60
md += [
    "# Benchmarks",
    "",
    f"Generated by `{meta['command']}` on {when} ({mins:.0f} min; {meta['repeats']} run(s) per cell). "
    "Each cell is the median (min–max) of the kept runs; ratios are herald's median over the peer's "
    "(for latency and memory, lower is better). How to reproduce, the scenarios and the handlers: "
    "[bench/README.md](bench/README.md).",
    "",
    "| | |",
    "|---|---|",
    f"| machine | {meta['cpu_model']}, {meta['cpus']} cores, {meta['mem']}, Linux {meta['kernel']}, open-file limit {meta['fd_limit']} per process |",
    f"| pinning | server on core {meta['server_cpu']}, load generator (all its processes) on core {meta['gen_cpu']} (`taskset`)"
    + (f"; both at nice {meta['nice']}" if meta.get("nice", "0") != "0" else "") + " |",
    f"| load average | {meta['load_start']} at the start, {meta['load_end']} at the end"
    + (f", up to {meta['load_max']} (1-min) during the run" if meta.get("load_max") else "")
    + " (the machine is shared with other sessions' builds and tests) |",
    f"| herald | {meta['herald']} (`fixture --profile bench`; `herald` with a token-auth site for /send) |",
    f"| socketioxide | {meta['socketioxide']} (bench/peers/socketioxide, {meta['rustc']}) |",
    f"| Node socket.io | {meta['socketio_node']} on Node {meta['node']} (bench/peers/node) |",
    "",
]

md += table("1. Idle connections: N={N}", "idle-10k", [
    ("server RSS per connection (KiB)", "bytes_per_conn", "KiB"),
    ("connects per second (ramp)", "connects_per_s", ""),
    ("connections held", "alive", ""),
] + cpu[:1], held("idle-10k"))
md += table("1b. Idle connections: the most the machine allows, N={N}", "idle-max", [
    ("server RSS per connection (KiB)", "bytes_per_conn", "KiB"),
    ("connects per second (ramp)", "connects_per_s", ""),
    ("connections held", "alive", ""),
], held("idle-max") + " The bound is the server process's open-file limit.")
md += table("2a. Fan-out: N={N} in one room, M={M} messages", "fanout-1k", [
    ("deliveries per second", "deliveries_per_s", ""), *lat, ("lost", "lost", ""), *cpu, *eff])
md += table("2b. Fan-out: N={N}, M={M}", "fanout-10k", [
    ("deliveries per second", "deliveries_per_s", ""), *lat, ("lost", "lost", ""), *cpu, *eff],
    held("fanout-10k"))
md += table("2c. Fan-out latency at a steady rate: N={N}, {RATE} broadcasts/s (below every server's capacity)", "fanout-rate", [
    *lat, ("deliveries per second", "deliveries_per_s", ""), ("lost", "lost", ""), *cpu],
    "The publisher sends on a fixed schedule, so the latency is the servers' own, not the drain "
    "time of a backlog (2a and 2b saturate the servers).")
md += table("3. Echo with ack: C={N} clients, closed loop", "echo", [
    ("round trips per second", "round_trips_per_s", ""), *lat, *cpu,
    ("round trips per server CPU-second", "round_trips_per_cpu_s", "")])

push = [r for r in runs.get(("push", "herald-service"), []) if "error" not in r]
if push or runs.get(("push", "herald-service")):
    md += ["### 4. Per-user push: POST /send to one user's room (herald service only)", ""]
    md += [f"{size('push', 'clients')} users connected (one socket each, token auth); POST /send at a fixed rate, "
           "rate after rate; the ceiling is the highest rate whose deliveries kept up (≥ 95 % delivered "
           "within the step and 1 s after).", ""]
    md += ["| run | ceiling (POST/s) | p50 at ceiling (ms) | p99 at ceiling (ms) | server CPU | generator CPU | steps (rate: delivered/s, p99 ms, gen CPU) |", "|---|---|---|---|---|---|---|"]
    for r in push:
        steps = "; ".join(f"{s['rate']}: {s['delivered_per_s']:,.0f}, {fmt(s.get('p99_us'), 'ms')}, {s['gen_cpu']:.2f}" for s in r["steps"])
        md.append(f"| {r['run']} | {r['ceiling_per_s']:,} | {fmt(r.get('p50_us'), 'ms')} | {fmt(r.get('p99_us'), 'ms')} | "
                  f"{fmt(r.get('server_cpu'), 'cores')} | {fmt(r.get('gen_cpu'), 'cores')} | {steps} |")
    for r in runs.get(("push", "herald-service"), []):
        if "error" in r:
            md.append(f"| {r['run']} | failed: {r['error'][:200]} | | | | | |")
    md.append("")

md += table("5. Mixed: fan-out N={N} M={M} with 20 % of the clients on long-polling", "mixed", [
    ("deliveries per second", "deliveries_per_s", ""), *lat, ("lost", "lost", ""), *cpu])
md += table("6. Slow consumers: fan-out N={N} M={M} of 1 KB, baseline (nobody slow)", "slow-base", [
    ("deliveries per second", "deliveries_per_s", ""), *lat,
    ("server RSS at start (MiB)", "rss_start_kib", "KiB"), ("server RSS peak (MiB)", "rss_peak_kib", "KiB"),
    *cpu])
md += table("6b. Slow consumers: the same with 1 % of the clients not reading (SO_RCVBUF 4 KiB)", "slow", [
    ("deliveries per second (the others)", "deliveries_per_s", ""), *lat, ("lost (the others)", "lost", ""),
    ("server RSS at start (MiB)", "rss_start_kib", "KiB"), ("server RSS mid-run (MiB)", "rss_mid_kib", "KiB"),
    ("server RSS peak (MiB)", "rss_peak_kib", "KiB"), ("server RSS at the end (MiB)", "rss_end_kib", "KiB"), *cpu])

if any(("slow", s) in runs for s in present):
    md += ["Effect of the slow consumers on the others' p99 (slow / baseline):", ""]
    for s in present:
        a, b = median("slow", s, "p99_us"), median("slow-base", s, "p99_us")
        if a and b:
            md.append(f"- {s}: {a / b:.2f}× ({fmt(b, 'ms')} → {fmt(a, 'ms')} ms)")
    md.append("")


# --- budget -------------------------------------------------------------------------
def check(desc, ok):
    return f"| {desc} | {'yes' if ok else 'NO'} |" if ok is not None else f"| {desc} | – |"


def r_(scen, key, o):
    x, y = median(scen, "herald", key), median(scen, o, key)
    return (x / y) if x and y else None


if "herald" in present:
    md += ["## Budget (issue #8)", "", "| line | measured | holds |", "|---|---|---|"]

    def line(desc, value, ok):
        md.append(f"| {desc} | {value} | {'–' if ok is None else ('yes' if ok else 'NO')} |")

    per = median("idle-10k", "herald", "bytes_per_conn")
    sx = r_("idle-10k", "bytes_per_conn", "socketioxide")
    line("idle memory ≤ 8 KiB per connection", f"{fmt(per, 'KiB')} KiB" if per else "–", per <= 8192 if per else None)
    line("idle memory ≤ 0.25× socketioxide", f"{sx:.2f}×" if sx else "–", sx <= 0.25 if sx else None)
    for scen in ["fanout-1k", "fanout-10k"]:
        for o, need in [("socketioxide", 2.0), ("node", 5.0)]:
            r = r_(scen, "deliveries_per_s", o)
            line(f"{scen} deliveries/s ≥ {need:g}× {o}", f"{r:.2f}×" if r else "–", r >= need if r else None)
            p = r_(scen, "p99_us", o)
            line(f"{scen} p99 lower than {o}", f"{p:.2f}×" if p else "–", p < 1 if p else None)
    r = r_("echo", "round_trips_per_s", "socketioxide")
    line("echo round trips/s ≥ 1.5× socketioxide", f"{r:.2f}×" if r else "–", r >= 1.5 if r else None)
    p = r_("echo", "p99_us", "socketioxide")
    line("echo p99 ≤ socketioxide", f"{p:.2f}×" if p else "–", p <= 1 if p else None)
    r = r_("idle-10k", "connects_per_s", "socketioxide")
    line("connects/s ≥ 1.5× socketioxide (idle-10k ramp)", f"{r:.2f}×" if r else "–", r >= 1.5 if r else None)
    a, b = median("slow", "herald", "p99_us"), median("slow-base", "herald", "p99_us")
    line("slow consumers raise the others' p99 ≤ 10 %", f"{a / b:.2f}×" if a and b else "–", a / b <= 1.10 if a and b else None)
    md.append("")

notes = gen_note()
if notes:
    md += ["## Discarded and failed runs", "",
           f"A run is discarded when the load generator used ≥ {SATURATED:.0%} of its core and more of "
           "it than the server used of its own (then the generator set the pace).", ""] + notes + [""]

extra = sys.argv[3] if len(sys.argv) > 3 else f"{results_dir}/NOTES.md"
try:
    md += [open(extra).read()]
except FileNotFoundError:
    pass

open(out, "w").write("\n".join(md).rstrip() + "\n")
