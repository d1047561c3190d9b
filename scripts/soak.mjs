#!/usr/bin/env node
// Soak benchmark (a measurement, not a test): steady churn against the release herald
// binary for a long time, sampling the server's RSS and open file descriptors.
//
//   node scripts/soak.mjs [--minutes 30] [--rate 5] [--life 20] [--sample 10] [--window 5]
//
// herald (target/release/herald, or $HERALD_BIN; copied to a temp dir first so a rebuild
// during the run does not swap the binary) runs with one JWT site with client rooms on.
// Every 1/rate s a new socket.io-client connects, cycling through websocket only, polling
// only and polling-then-upgrade; it JOINs one of 20 client rooms, NOTIFYs its room every
// 2 s, emits a plain event every 3 s, and disconnects after a random life of 0.5–1.5 ×
// `life` s (so about rate × life clients are connected at any time). A publisher POSTs
// /send twice a second: to everyone, to a client room (`room:rN`) and to a user room, in
// turn. Every `sample` s the script reads VmRSS and the fd count from /proc/<pid> and
// herald_sessions from /metrics, and prints a row.
//
// At the end it stops the churn, waits until herald has no session left, samples once
// more, and prints a verdict: RSS and open fds of the last `window` minutes against the
// first `window` minutes (the warm-up): flat when the median of the last window is at most
// the warm-up's maximum + 10 % (RSS) and + 10 % (fds; the number of connected clients
// varies by a few percent from sample to sample by design), and the fds after the
// drain are back to the count before the first client (± 2). Exit code 1 when not flat.
//
// Loopback only; runs `nice`d when the caller nices it (e.g. `nice -n 10 node …`).
// Needs `npm ci` in conformance/ and `cargo build --release -p herald`.
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(repo, "conformance/package.json"));
const { io } = require("socket.io-client");

const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const MINUTES = opt("minutes", 30);
const RATE = opt("rate", 5); // new clients per second
const LIFE = opt("life", 20); // mean client life, seconds
const SAMPLE = opt("sample", 10); // seconds between samples
const WINDOW = opt("window", 5); // minutes of warm-up and of the final window
const TOLERANCE = 0.1;
const ROOMS = 20;
const USERS = 50;

const KEY = "soak-api-key-0123456789abcdef";
const SECRET = "soak-secret-that-is-long-enough-0123456789";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const b64url = (x) => Buffer.from(x).toString("base64url");
function jwt(sub) {
  const h = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const p = b64url(JSON.stringify({ sub, exp: Math.floor(Date.now() / 1000) + 7200 }));
  return `${h}.${p}.${b64url(createHmac("sha256", SECRET).update(`${h}.${p}`).digest())}`;
}

// ---- herald ----
const src = process.env.HERALD_BIN ?? path.join(repo, "target/release/herald");
const dir = mkdtempSync(path.join(os.tmpdir(), "herald-soak-"));
const bin = path.join(dir, "herald");
copyFileSync(src, bin);
const port = await freePort();
const opsPort = await freePort();
const configPath = path.join(dir, "herald.toml");
writeFileSync(
  configPath,
  `listen = "127.0.0.1:${port}"
[ops]
listen = "127.0.0.1:${opsPort}"
[limits]
max_connections_per_ip = 100000
[[sites]]
name = "app"
api_keys = ["${KEY}"]
client_rooms = true
[sites.auth]
mode = "jwt"
secret = "${SECRET}"
`,
);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HERALD_")));
const herald = spawn(bin, ["--config", configPath], { stdio: ["ignore", "ignore", "pipe"], env: { ...env, HERALD_LOG: "warn" } });
let heraldErr = "";
herald.stderr.on("data", (d) => (heraldErr = (heraldErr + d).slice(-4000)));
herald.on("exit", (code, sig) => {
  if (!stopping) {
    console.error(`herald exited during the soak (${code ?? sig}):\n${heraldErr}`);
    process.exit(2);
  }
});
let stopping = false;
for (let i = 0; ; i++) {
  const ok = await new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    c.on("connect", () => (c.destroy(), resolve(true)));
    c.on("error", () => resolve(false));
  });
  if (ok) break;
  if (i > 300) throw new Error("herald did not start");
  await sleep(50);
}

const rssKb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${herald.pid}/status`, "utf8"))[1]);
const fds = () => readdirSync(`/proc/${herald.pid}/fd`).length;
async function sessions() {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  return Number(/^herald_sessions (\d+)$/m.exec(text)?.[1] ?? NaN);
}

// ---- churn ----
const stats = { connects: 0, connectErrors: 0, disconnects: 0, received: 0, relays: 0, notifies: 0, emits: 0, sends: 0, sendErrors: 0, joins: 0, joinErrors: 0 };
const live = new Set();
const TRANSPORTS = [["websocket"], ["polling"], ["polling", "websocket"]];
let seq = 0;

function startClient() {
  const n = seq++;
  const user = `u${n % USERS}`;
  const room = `r${n % ROOMS}`;
  const s = io(`http://127.0.0.1:${port}`, {
    auth: { token: jwt(user) },
    transports: TRANSPORTS[n % TRANSPORTS.length],
    reconnection: false,
    forceNew: true,
  });
  const timers = [];
  live.add(s);
  const end = () => {
    for (const t of timers) clearInterval(t), clearTimeout(t);
    live.delete(s);
  };
  s.on("connect", async () => {
    stats.connects++;
    try {
      const r = await s.timeout(10_000).emitWithAck("JOIN", { room, name: `n${n}` });
      if (r?.ok) stats.joins++;
      else stats.joinErrors++;
    } catch {
      stats.joinErrors++;
    }
    timers.push(setInterval(() => (s.emit("NOTIFY", { room, message: { n, t: Date.now() } }), stats.notifies++), 2000));
    timers.push(setInterval(() => (s.emit("chat", { n, text: "hello" }), stats.emits++), 3000));
  });
  s.on("connect_error", () => {
    stats.connectErrors++;
    end();
  });
  s.on("disconnect", () => {
    stats.disconnects++;
    end();
  });
  s.onAny((ev) => {
    if (ev === "EVENT") stats.relays++;
    else stats.received++;
  });
  timers.push(setTimeout(() => s.disconnect(), LIFE * 1000 * (0.5 + Math.random())));
}

let publishTurn = 0;
async function publish() {
  const t = publishTurn++;
  const body =
    t % 3 === 0
      ? { event: "news", args: [{ t }] }
      : t % 3 === 1
        ? { event: "room_news", rooms: [`room:r${t % ROOMS}`], args: [t] }
        : { event: "dm", rooms: [`u${t % USERS}`], args: ["hi", t] };
  try {
    const r = await fetch(`http://127.0.0.1:${port}/send?site=app`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
      body: JSON.stringify(body),
    });
    await r.arrayBuffer();
    if (r.status === 202) stats.sends++;
    else stats.sendErrors++;
  } catch {
    stats.sendErrors++;
  }
}

// ---- run ----
const samples = [];
const t0 = Date.now();
const baselineFds = fds();
const baselineRss = rssKb();
const fmt = (x) => String(x).padStart(9);
console.log(`soak: herald pid ${herald.pid} (${src}), ${MINUTES} min, ${RATE} connects/s, life ~${LIFE} s, sample every ${SAMPLE} s`);
console.log(`soak: before the first client: RSS ${baselineRss} KiB, fds ${baselineFds}`);
console.log(["   t(s)", "RSS KiB", "fds", "sessions", "clients", "connects", "received", "relays", "sends"].map(fmt).join(""));

async function sample() {
  const row = { t: Math.round((Date.now() - t0) / 1000), rss: rssKb(), fds: fds(), sessions: await sessions(), clients: live.size, ...stats };
  samples.push(row);
  console.log([row.t, row.rss, row.fds, row.sessions, row.clients, row.connects, row.received, row.relays, row.sends].map(fmt).join(""));
}

const churn = setInterval(startClient, 1000 / RATE);
const pub = setInterval(publish, 500);
await sample();
const sampler = setInterval(sample, SAMPLE * 1000);
await sleep(MINUTES * 60_000);
clearInterval(churn);
clearInterval(pub);
clearInterval(sampler);

// drain: let the live clients go, then wait for herald to have no session
for (const s of live) s.disconnect();
const drainStart = Date.now();
while ((await sessions()) !== 0 && Date.now() - drainStart < 120_000) await sleep(500);
await sleep(2000);
const after = { rss: rssKb(), fds: fds(), sessions: await sessions() };

// ---- verdict ----
const inWindow = (from, to) => samples.filter((r) => r.t >= from && r.t <= to);
const warm = inWindow(0, WINDOW * 60);
const last = inWindow(MINUTES * 60 - WINDOW * 60, MINUTES * 60 + SAMPLE);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const max = (xs) => Math.max(...xs);
const mid = samples[Math.floor(samples.length / 2)];
const rssWarmMax = max(warm.map((r) => r.rss));
const rssLastMed = median(last.map((r) => r.rss));
const fdWarmMax = max(warm.map((r) => r.fds));
const fdLastMed = median(last.map((r) => r.fds));
const rssFlat = rssLastMed <= rssWarmMax * (1 + TOLERANCE);
const fdFlat = fdLastMed <= fdWarmMax * (1 + TOLERANCE);
const fdBack = after.sessions === 0 && Math.abs(after.fds - baselineFds) <= 2;
const s = samples.at(-1);
console.log(`
soak: ${MINUTES} min, ${s.connects} connects (${stats.connectErrors} connect errors), ${s.disconnects} disconnects, ${s.joins} JOINs (${stats.joinErrors} refused),
      ${s.emits} emits + ${s.notifies} NOTIFYs sent by clients, ${s.sends} POST /send (${stats.sendErrors} failed), ${s.received} pushes + ${s.relays} room relays received
RSS KiB  start ${samples[0].rss}  middle ${mid.rss} (t=${mid.t}s)  end ${s.rss}  |  warm-up max ${rssWarmMax}, last ${WINDOW} min median ${rssLastMed}  |  after the drain ${after.rss}
fds      start ${samples[0].fds}  middle ${mid.fds}  end ${s.fds}  |  warm-up max ${fdWarmMax}, last ${WINDOW} min median ${fdLastMed}  |  after the drain ${after.fds} (before the first client ${baselineFds})
verdict: RSS ${rssFlat ? "flat" : "GROWS"} (last-window median ≤ warm-up max + ${TOLERANCE * 100} %), fds ${fdFlat ? "flat" : "GROW"} (same rule), fds after the drain ${fdBack ? "back to baseline" : "NOT back to baseline"} (± 2)`);

stopping = true;
herald.kill("SIGTERM");
await new Promise((r) => herald.once("exit", r));
rmSync(dir, { recursive: true, force: true });
process.exit(rssFlat && fdFlat && fdBack ? 0 : 1);
