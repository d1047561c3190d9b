// POST /send throughput and delivery latency with reliable delivery on vs off, same
// workload, one run (issue: reliable delivery, performance note). Not a test.
//
//   cargo build --release -p herald
//   node scripts/bench-reliable.mjs [--users 200] [--seconds 10] [--concurrency 32] [--redis]
//
// Starts target/release/herald with two identical sites ("plain" and "reliable", the
// latter with [sites.reliable] enabled; --redis: the store in a redis-server started
// here), connects one socket.io-client per user to each, and for each site in turn
// POSTs /send to random user rooms from `concurrency` loops for `seconds`. Each message
// carries its send time; clients ack reliable messages at once. Prints requests/s and
// delivery latency p50/p99 per site and the reliable/plain ratios.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(path.join(repo, "conformance", "package.json"));
const { io } = require("socket.io-client");
const HERALD = path.join(repo, "target/release/herald");

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : Number(process.argv[i + 1]);
};
const USERS = arg("users", 200);
const SECONDS = arg("seconds", 10);
const CONCURRENCY = arg("concurrency", 32);
const WITH_REDIS = process.argv.includes("--redis");
const KEY = "bench-api-key-0123456789abcdef";
const SECRET = "a-bench-secret-that-is-long-enough-0123456789";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitPort(port) {
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise((r) => {
      const c = net.connect(port, "127.0.0.1");
      c.on("connect", () => (c.destroy(), r(true)));
      c.on("error", () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} did not open`);
}

const children = [];
process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));

let redisConf = "";
if (WITH_REDIS) {
  const rport = await freePort();
  children.push(spawn("redis-server", ["--port", String(rport), "--save", "", "--appendonly", "no"], { stdio: "ignore" }));
  await waitPort(rport);
  redisConf = `[redis]\nurl = "redis://127.0.0.1:${rport}/"\n`;
}
const port = await freePort();
const site = (name, ns, reliable) =>
  `[[sites]]\nname = "${name}"\nnamespace = "${ns}"\napi_keys = ["${KEY}"]\nuser_room_prefix = "u:"\n` +
  `[sites.auth]\nmode = "jwt"\nsecret = "${SECRET}"\n` +
  (reliable ? `[sites.reliable]\nenabled = true\nmax_pending = 100000\nmax_pending_bytes = 100000000\n` : "");
const dir = mkdtempSync(path.join(os.tmpdir(), "herald-bench-"));
const config = path.join(dir, "herald.toml");
writeFileSync(
  config,
  `listen = "127.0.0.1:${port}"\n[ops]\nlisten = "127.0.0.1:0"\n[limits]\nmax_connections_per_ip = 100000\n` +
    redisConf + site("plain", "/plain", false) + site("reliable", "/reliable", true),
);
children.push(spawn(HERALD, ["--config", config], { stdio: "ignore", env: { ...process.env, HERALD_LOG: "warn" } }));
await waitPort(port);
const url = `http://127.0.0.1:${port}`;
const token = (sub, s) => execFileSync(HERALD, ["--config", config, "token", "--site", s, "--sub", sub]).toString().trim();

async function connectAll(siteName) {
  const latencies = [];
  const sockets = await Promise.all(
    Array.from({ length: USERS }, (_, i) =>
      new Promise((resolve, reject) => {
        const s = io(`${url}/${siteName}`, { auth: { token: token(`user${i}`, siteName) }, transports: ["websocket"], forceNew: true, reconnection: false });
        s.on("m", (...args) => {
          const ack = typeof args.at(-1) === "function" ? args.pop() : null;
          latencies.push(performance.now() - args[0]);
          ack?.();
        });
        s.on("connect", () => resolve(s));
        s.on("connect_error", reject);
      })),
  );
  return { sockets, latencies };
}

async function run(siteName) {
  const { sockets, latencies } = await connectAll(siteName);
  let sent = 0, failed = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const user = Math.floor(Math.random() * USERS);
        const res = await fetch(`${url}/send?site=${siteName}`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-API-Key": KEY },
          body: JSON.stringify({ rooms: [`u:user${user}`], event: "m", args: [performance.now()], reliable: siteName === "reliable" }),
        });
        await res.arrayBuffer();
        if (res.status === 202) sent++; else failed++;
      }
    }),
  );
  await sleep(500);
  sockets.forEach((s) => s.close());
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  return { site: siteName, rps: sent / SECONDS, failed, delivered: latencies.length, p50: q(0.5), p99: q(0.99) };
}

const plain = await run("plain");
const reliable = await run("reliable");
const fmt = (r) => `${r.site.padEnd(9)} ${r.rps.toFixed(0).padStart(7)} req/s  delivered ${r.delivered}/${Math.round(r.rps * SECONDS)}  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  failed ${r.failed}`;
console.log(`users ${USERS}, ${SECONDS} s per site, concurrency ${CONCURRENCY}, store ${WITH_REDIS ? "redis" : "memory"}`);
console.log(fmt(plain));
console.log(fmt(reliable));
console.log(`reliable/plain: throughput ${(reliable.rps / plain.rps).toFixed(2)}x, p50 ${(reliable.p50 / plain.p50).toFixed(2)}x, p99 ${(reliable.p99 / plain.p99).toFixed(2)}x`);
process.exit(0);
