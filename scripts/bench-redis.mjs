#!/usr/bin/env node
// Redis cluster benchmark (a measurement, not a test): its own redis-server, two herald
// nodes (target/release/herald), N websocket clients spread over worker processes and
// both nodes.
//
//   node scripts/bench-redis.mjs [CLIENTS=10000] [BROADCASTS=20] [HOPS=1000]
//
// 1. Emitter fan-out: @socket.io/redis-emitter publishes BROADCASTS events to everyone;
//    deliveries/s = CLIENTS × BROADCASTS / (last delivery − first publish).
// 2. Redis hop: POST /send on node A, one at a time, HOPS times, to one client on A and
//    one on B (same process, same clock); the hop is B's receipt time minus A's: p50/p99.
// 3. End to end: an emitter publish to one client on B, one at a time: p50/p99 from
//    PUBLISH to the client's event (Redis, herald's decode and delivery, WebSocket).
//
// Needs `npm ci` in conformance/ and `cargo build --release -p herald`. Loopback only;
// everything it starts is stopped at the end.
import { fork } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(import.meta.url);
const repo = path.resolve(path.dirname(here), "..");
const require = createRequire(path.join(repo, "conformance/package.json"));

if (process.argv[2] === "worker") {
  // worker URLS_JSON COUNT: connects COUNT clients round-robin over the URLs, then counts
  // "bench" events and reports the time of the last one.
  const { io } = require("socket.io-client");
  const urls = JSON.parse(process.argv[3]);
  const count = Number(process.argv[4]);
  let received = 0;
  let last = 0;
  const sockets = [];
  let connected = 0;
  for (let i = 0; i < count; i++) {
    const s = io(urls[i % urls.length], { transports: ["websocket"], reconnection: false, forceNew: true });
    s.on("connect", () => {
      connected++;
      if (connected === count) process.send({ ready: true });
    });
    s.on("connect_error", (e) => process.send({ error: String(e) }));
    s.on("bench", () => {
      received++;
      last = Date.now();
    });
    sockets.push(s);
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
  }
  process.on("message", (m) => {
    if (m === "report") process.send({ received, last });
    if (m === "exit") {
      for (const s of sockets) s.disconnect();
      setTimeout(() => process.exit(0), 200);
    }
  });
} else {
  const support = await import(path.join(repo, "conformance/redis/support.mjs"));
  const { createClient } = require("redis");
  const { Emitter } = require("@socket.io/redis-emitter");
  const clients = Number(process.argv[2] ?? 10_000);
  const broadcasts = Number(process.argv[3] ?? 20);
  const hops = Number(process.argv[4] ?? 1000);
  const perWorker = 2500;
  const extra = `[limits]\nmax_connections_per_ip = ${clients + 100}\nmax_connections = ${clients + 100}`;

  const open = `[[sites]]\nname = "open"\nnamespace = "/open"\napi_keys = ["${support.KEY}"]\n[sites.auth]\nmode = "none"\n`;
  const redis = await support.startRedis();
  const a = await support.startHerald(redis.url, extra, open);
  const b = await support.startHerald(redis.url, extra, open);
  const workers = [];
  try {
    const urls = [`${a.url}/open`, `${b.url}/open`];
    const ready = [];
    for (let left = clients; left > 0; left -= perWorker) {
      const w = fork(here, ["worker", JSON.stringify(urls), String(Math.min(perWorker, left))]);
      workers.push(w);
      ready.push(new Promise((resolve, reject) => {
        w.on("message", (m) => (m.ready ? resolve() : m.error && reject(new Error(m.error))));
      }));
    }
    console.error("bench: waiting for clients");
    await Promise.all(ready);
    console.error(`bench: ${clients} clients connected over 2 nodes`);

    const rc = createClient({ url: redis.url });
    await rc.connect();
    const emitter = new Emitter(rc).of("/open");
    const t0 = Date.now();
    for (let i = 0; i < broadcasts; i++) emitter.emit("bench", i, "payload-0123456789");
    const want = clients * broadcasts;
    let total = 0;
    let last = 0;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const reports = await Promise.all(workers.map((w) => new Promise((r) => {
        w.once("message", r);
        w.send("report");
      })));
      total = reports.reduce((s, r) => s + r.received, 0);
      last = Math.max(...reports.map((r) => r.last));
      if (total >= want) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const secs = (last - t0) / 1000;
    console.log(`emitter fan-out: ${total}/${want} deliveries in ${secs.toFixed(3)} s = ${Math.round(total / secs)} deliveries/s`);
    await rc.quit();

    // Redis hop.
    const [onA, onB] = await Promise.all([
      support.connect(a.url, {}, "/open"),
      support.connect(b.url, {}, "/open"),
    ]);
    const deltas = [];
    for (let i = 0; i < hops; i++) {
      const times = {};
      const got = Promise.all([onA, onB].map((s, k) => new Promise((r) => s.once("hop", () => {
        times[k] = process.hrtime.bigint();
        r();
      }))));
      // To the two sockets' own rooms: not to the fan-out clients.
      await a.send({ event: "hop", args: [i], rooms: [onA.id, onB.id] }, "open");
      await got;
      deltas.push(Number(times[1] - times[0]) / 1e6);
    }
    deltas.sort((x, y) => x - y);
    const q = (p) => deltas[Math.min(deltas.length - 1, Math.floor(p * deltas.length))];
    console.log(`redis hop (remote receipt − local receipt, ${hops} messages): p50 ${q(0.5).toFixed(3)} ms, p99 ${q(0.99).toFixed(3)} ms`);
    // End to end through Redis: emitter PUBLISH → herald B → client on B (same process).
    const hc = createClient({ url: redis.url });
    await hc.connect();
    const hopEmitter = new Emitter(hc).of("/open");
    const e2e = [];
    for (let i = 0; i < hops; i++) {
      const got = new Promise((r) => onB.once("e2e", r));
      const t = process.hrtime.bigint();
      hopEmitter.to(onB.id).emit("e2e", i);
      await got;
      e2e.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    e2e.sort((x, y) => x - y);
    const q2 = (p) => e2e[Math.min(e2e.length - 1, Math.floor(p * e2e.length))];
    console.log(`emitter → Redis → herald → client (${hops} messages, one at a time): p50 ${q2(0.5).toFixed(3)} ms, p99 ${q2(0.99).toFixed(3)} ms`);
    await hc.quit();
    onA.disconnect();
    onB.disconnect();
  } finally {
    for (const w of workers) w.send("exit");
    await new Promise((r) => setTimeout(r, 500));
    await a.stop();
    await b.stop();
    await redis.stop();
  }
}
