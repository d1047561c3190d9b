// Opens N idle Engine.IO v4 WebSocket sessions and keeps them alive (answers every server
// ping `2` with a pong `3`), for scripts/measure-idle-memory.sh.
//
//   node scripts/idle-ws-clients.mjs --port P [--sessions N] [--sources K] [--workers W]
//                                    [--concurrency C] [--rate R] [--path /engine.io/]
//
// Connections go to 127.0.0.1:P from the source addresses 127.0.0.1 .. 127.0.0.K in turn
// (more than one source address lifts the ~28k ephemeral-port limit per address pair).
// The sessions are split over W worker threads (default 4): with a 300 ms ping interval
// and a 200 ms ping timeout, 10k sessions mean ~33k pongs a second, and one JavaScript
// thread that is also opening connections stalls past the timeout (short event-loop
// queues per thread keep every pong prompt, even on a loaded 2-core machine). C (default 20)
// is the number of handshakes in flight per worker: more makes the event loop lag. R
// (default 0: no limit) caps the handshakes per second, all workers together, which keeps
// the clients responsive on a loaded machine.
//
// Protocol on stdout, one line each:
//   ready opened=N failed=F ms=T        once every session is open (or failed)
//   stats alive=N closed=C pings=P lag_max_ms=L gap_max_ms=G
//                                       in answer to a `stats` line on stdin (L: the worst
//                                       event-loop delay of a worker since the last stats;
//                                       G: the longest time between two pings of a session)
// EOF on stdin closes every session and exits.
// Uses `ws` from conformance/node_modules (`cd conformance && npm ci`).

import { createRequire } from "node:module";
import readline from "node:readline";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

if (isMainThread) {
  await main();
} else {
  await worker(workerData);
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

async function main() {
  const opts = {
    port: Number(arg("port", "")),
    sessions: Number(arg("sessions", "10000")),
    sources: Number(arg("sources", "1")),
    workers: Number(arg("workers", "4")),
    concurrency: Number(arg("concurrency", "20")),
    rate: Number(arg("rate", "0")),
    path: arg("path", "/engine.io/"),
  };
  const ints = ["port", "sessions", "sources", "workers", "concurrency"];
  const bad = (k) => !Number.isInteger(opts[k]) || opts[k] < 1;
  if (ints.some(bad) || opts.sources > 254 || !(opts.rate >= 0)) {
    console.error(
      "usage: idle-ws-clients.mjs --port P [--sessions N] [--sources K<=254] [--workers W] [--concurrency C] [--rate R]",
    );
    process.exit(2);
  }
  const start = Date.now();
  const workers = [];
  const per = Math.ceil(opts.sessions / opts.workers);
  const nworkers = Math.ceil(opts.sessions / per);
  const rate = opts.rate / nworkers; // per worker; 0: no limit
  for (let first = 0; first < opts.sessions; first += per) {
    const count = Math.min(per, opts.sessions - first);
    const data = { ...opts, rate, first, count };
    workers.push(new Worker(new URL(import.meta.url), { workerData: data }));
  }
  // Answers of the workers, by kind: each resolves once all of them answered.
  const waiting = { ready: [], stats: [] };
  const collect = (kind) =>
    new Promise((resolve) => {
      const answers = [];
      waiting[kind].push((msg) => {
        answers.push(msg);
        if (answers.length === workers.length) {
          resolve(answers);
          return true;
        }
        return false;
      });
    });
  for (const w of workers) {
    w.on("message", (msg) => {
      const q = waiting[msg.kind];
      if (q.length && q[0](msg)) q.shift();
    });
    w.on("error", (e) => {
      console.error(`worker failed: ${e.stack ?? e}`);
      process.exit(1);
    });
  }
  const sum = (answers, key) => answers.reduce((n, a) => n + a[key], 0);

  const ready = await collect("ready");
  console.log(`ready opened=${sum(ready, "opened")} failed=${sum(ready, "failed")} ms=${Date.now() - start}`);

  const rl = readline.createInterface({ input: process.stdin });
  rl.on("line", async (line) => {
    if (line.trim() !== "stats") return;
    const pending = collect("stats");
    for (const w of workers) w.postMessage("stats");
    const s = await pending;
    const max = (key) => Math.max(...s.map((a) => a[key]));
    console.log(
      `stats alive=${sum(s, "alive")} closed=${sum(s, "closed")} pings=${sum(s, "pings")} ` +
        `lag_max_ms=${max("lag")} gap_max_ms=${max("gap")}`,
    );
  });
  rl.on("close", async () => {
    // Whatever the workers do, the process is gone within 3 s.
    setTimeout(() => process.exit(0), 3000).unref();
    await Promise.all(
      workers.map(
        (w) =>
          new Promise((resolve) => {
            w.once("exit", resolve);
            w.postMessage("stop");
          }),
      ),
    );
    process.exit(0);
  });
}

async function worker({ port, first, count, sources, concurrency, rate, path }) {
  const require = createRequire(new URL("../conformance/package.json", import.meta.url));
  const WebSocket = require("ws");
  const url = `ws://127.0.0.1:${port}${path}?EIO=4&transport=websocket`;
  const PONG = Buffer.from("3");
  const sockets = [];
  let opened = 0;
  let failed = 0;
  let closed = 0;
  let pings = 0;
  let stopping = false;
  let gap = 0;
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();

  /** Opens one session; resolves true once its OPEN packet arrived, false if it failed. */
  const openOne = (i) =>
    new Promise((resolve) => {
      const ws = new WebSocket(url, {
        // Only when asked: binding a source address picks the local port in bind(), which
        // the kernel makes slower as ports fill up (and node does it on its main thread).
        ...(sources > 1 ? { localAddress: `127.0.0.${1 + (i % sources)}` } : {}),
        perMessageDeflate: false,
        skipUTF8Validation: true,
        // An all-zero mask: the frame is sent unmasked-in-effect, no XOR pass per pong.
        generateMask: (mask) => mask.fill(0),
      });
      let isOpen = false;
      let settled = false;
      let last = 0;
      const fail = (why) => {
        if (settled) return;
        settled = true;
        failed++;
        if (failed <= 3) console.error(`session ${i}: ${why}`);
        resolve(false);
      };
      ws.on("message", (data, isBinary) => {
        if (isBinary) return;
        if (isOpen) {
          // the server's ping is the one-byte text frame `2`
          if (data.length === 1 && data[0] === 0x32) {
            pings++;
            const now = Date.now();
            if (now - last > gap) gap = now - last;
            last = now;
            ws.send(PONG, { binary: false });
          }
          return;
        }
        if (data[0] !== 0x30) return fail(`first frame ${JSON.stringify(data.toString())}`);
        isOpen = true;
        settled = true;
        opened++;
        last = Date.now();
        sockets.push(ws);
        resolve(true);
      });
      ws.on("error", (e) => fail(e.message));
      ws.on("close", () => {
        if (isOpen) {
          if (!stopping) closed++;
        } else {
          fail("closed before the OPEN packet");
        }
      });
    });

  let next = first;
  const end = first + count;
  // Handshake start times are spaced 1/rate apart when a rate is set.
  let slot = Date.now();
  const paced = async () => {
    if (!rate) return;
    const at = Math.max(slot, Date.now());
    slot = at + 1000 / rate;
    const wait = at - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
  const opener = async () => {
    while (next < end) {
      const i = next++;
      await paced();
      await openOne(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, opener));
  parentPort.postMessage({ kind: "ready", opened, failed });
  parentPort.on("message", (msg) => {
    if (msg === "stats") {
      const worst = Math.round(lag.max / 1e6);
      lag.reset();
      parentPort.postMessage({ kind: "stats", alive: opened - closed, closed, pings, lag: worst, gap });
    } else if (msg === "stop") {
      stopping = true;
      // Reset rather than close: a FIN would leave every client port in TIME_WAIT for a
      // minute, and the next run's connect() calls slow down searching past them.
      for (const ws of sockets) {
        if (typeof ws._socket?.resetAndDestroy === "function") ws._socket.resetAndDestroy();
        else ws.terminate();
      }
      setTimeout(() => process.exit(0), 100);
    }
  });
}
