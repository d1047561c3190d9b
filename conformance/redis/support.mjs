// Helpers of the Redis suites: a redis-server of their own on a free port, the real
// herald binary with a TOML config (`[redis] url`), socket.io-client connections with
// JWT tokens, POST /send, /readyz and /metrics, and event collectors.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io } from "socket.io-client";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const HERALD = process.env.HERALD_BIN ?? path.join(repo, "target/release/herald");
export const KEY = "redis-test-api-key-0123456789";
export const SECRET = "a-redis-test-secret-that-is-long-enough-0123";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port, child, what) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`${what} exited early (${child.exitCode})`);
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      c.on("connect", () => { c.destroy(); resolve(true); });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(30);
  }
  throw new Error(`${what} did not start listening on ${port}`);
}

/** Waits until `f()` (maybe async) is truthy, at most `ms`. */
export async function until(what, f, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await f()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(50);
  }
}

/** Starts `redis-server` on `port` (a free one by default). Returns { port, url, stop() }. */
export async function startRedis(port = null) {
  port = port ?? (await freePort());
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  child.on("error", (e) => {
    throw new Error(`cannot run redis-server (${e.message}): run scripts/setup.sh`);
  });
  await waitForPort(port, child, "redis-server");
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await new Promise((r) => child.once("exit", r));
      }
    },
  };
}

const cleanEnv = () =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HERALD_")));

/**
 * Starts herald with `[redis] url = redisUrl` and two sites: "app" on "/" (JWT, broadcast
 * room `allusers`, user rooms without prefix) and "axr" on "/axr". `extra` is appended to
 * the `[redis]` section, `sites` (more `[[sites]]`) to the file. Returns { port, opsPort,
 * url, configPath, output(), readyz(), metrics(), token(), send(), kill(signal), stop() }.
 */
export async function startHerald(redisUrl, extra = "", sites = "") {
  const port = await freePort();
  const opsPort = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-redis-"));
  const configPath = path.join(dir, "herald.toml");
  writeFileSync(
    configPath,
    `listen = "127.0.0.1:${port}"
[ops]
listen = "127.0.0.1:${opsPort}"
[redis]
url = "${redisUrl}"
${extra}
[[sites]]
name = "app"
namespace = "/"
api_keys = ["${KEY}"]
[sites.auth]
mode = "jwt"
secret = "${SECRET}"

[[sites]]
name = "axr"
namespace = "/axr"
api_keys = ["${KEY}"]
[sites.auth]
mode = "jwt"
secret = "${SECRET}"
${sites}
`,
  );
  const child = spawn(HERALD, ["--config", configPath], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...cleanEnv(), HERALD_LOG: "info" },
  });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  await waitForPort(port, child, "herald");
  const h = {
    port,
    opsPort,
    url: `http://127.0.0.1:${port}`,
    configPath,
    output: () => out,
    async readyz() {
      const r = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
      return r.status;
    },
    async metrics() {
      return (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    },
    token(sub, site = "app") {
      return execFileSync(HERALD, ["--config", configPath, "token", "--site", site, "--sub", sub, "--ttl", "1h"])
        .toString()
        .trim();
    },
    async send(body, site = "app", route = "/send") {
      const r = await fetch(`${h.url}${route}?site=${site}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: await r.json() };
    },
    /** Sends `signal` and resolves once the process has exited (the node leaves). */
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill(signal);
        await exited;
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await until("herald subscribed to Redis", async () => (await h.readyz()) === 200);
  return h;
}

/**
 * A socket.io-client connection (websocket) to `url` + `nsp` with `auth`; resolves once
 * connected. Every event is recorded in `socket.events` as [name, ...args].
 */
export function connect(url, auth, nsp = "/") {
  return new Promise((resolve, reject) => {
    const s = io(url + nsp, { auth, transports: ["websocket"], reconnection: false, forceNew: true });
    s.events = [];
    s.onAny((...args) => s.events.push(args));
    s.once("connect", () => resolve(s));
    s.once("connect_error", reject);
  });
}

/** Waits until `socket` recorded an event named `name`; returns its arguments. */
export async function nextEvent(socket, name, ms = 5000) {
  let found;
  await until(`event ${name} on ${socket.id}`, () => {
    const i = socket.events.findIndex((e) => e[0] === name);
    if (i < 0) return false;
    found = socket.events.splice(i, 1)[0].slice(1);
    return true;
  }, ms);
  return found;
}

/** The events named `name` recorded so far (removed from the record). */
export function take(socket, name) {
  const got = socket.events.filter((e) => e[0] === name).map((e) => e.slice(1));
  socket.events = socket.events.filter((e) => e[0] !== name);
  return got;
}

/**
 * Sends `marker` to every socket in `sockets` through `emitOnAll` and waits until each
 * got it: everything published before the marker has been delivered by then (Redis
 * keeps a publisher's order), so absences can be asserted.
 */
export async function flush(sockets, emitOnAll, marker = "__flush") {
  await emitOnAll(marker);
  for (const s of sockets) await nextEvent(s, marker);
}
