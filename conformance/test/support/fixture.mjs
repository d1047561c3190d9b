// Test support for the Herald conformance suite.
//
// - startFixture(profile): start the fixture under test ($FIXTURE_CMD, default
//   <repo>/target/release/fixture) on a free loopback port, wait until it accepts
//   TCP connections, and hand back {port, url, stop()}.
// - raw probes: HTTP requests over a keep-alive agent, and a WebSocket wrapper
//   with a buffered message queue.
// - conformance(import.meta.url): describe/it wrappers that honour
//   expected-failures.json when the fixture under test is not the reference.
//
// Everything here treats the fixture as a black box over HTTP / WebSocket.

import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import process from "node:process";
import * as nodeTest from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CONFORMANCE_DIR = path.resolve(HERE, "..", "..");
export const REPO_DIR = path.resolve(CONFORMANCE_DIR, "..");
export const RESULTS_DIR = path.join(CONFORMANCE_DIR, ".work", "results");
export const DEFAULT_FIXTURE_CMD = shellQuote(path.join(REPO_DIR, "target", "release", "fixture"));

/** True when the suite runs against the reference Node fixture (run.sh --reference). */
export const IS_REFERENCE = process.env.CONFORMANCE_REFERENCE === "1";

export const sleep = (ms) => delay(ms);

function shellQuote(s) {
  return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------
// fixture process
// ---------------------------------------------------------------------------

const running = new Set();

process.on("exit", () => {
  // last resort: never leave a fixture behind, whatever happened to the tests
  for (const child of running) {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});

function listenOnce(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.removeListener("error", reject);
      resolve(server.address().port);
    });
  });
}

function closeServer(server) {
  return new Promise((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
}

/**
 * A TCP port that is free on 127.0.0.1 (bind port 0, read it, close), and also
 * free on ::1 when this machine has IPv6 loopback.
 */
export async function freePort() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const v4 = net.createServer();
    const port = await listenOnce(v4, 0, "127.0.0.1");
    const v6 = net.createServer();
    let usable = true;
    try {
      await listenOnce(v6, port, "::1");
    } catch (err) {
      // no IPv6 loopback is fine; a port taken on ::1 is not
      if (err.code === "EADDRINUSE") usable = false;
    }
    await closeServer(v6);
    await closeServer(v4);
    if (usable) return port;
  }
  throw new Error("could not find a free TCP port on 127.0.0.1 / ::1");
}

function tailOf(file, from = 0, maxBytes = 4000) {
  try {
    const text = fs.readFileSync(file).subarray(from).toString("utf8");
    return text.length > maxBytes ? `…${text.slice(-maxBytes)}` : text;
  } catch (err) {
    return `(cannot read ${file}: ${err.message})`;
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host: "127.0.0.1" });
    const done = (ok) => {
      sock.removeAllListeners();
      sock.on("error", () => {});
      sock.destroy();
      resolve(ok);
    };
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
    sock.setTimeout(1000, () => done(false));
  });
}

/**
 * A watchdog (its own process group, child of this process) that SIGKILLs the
 * fixture's group if this test process dies without stopping it (runner
 * killed, crash), so that no fixture outlives its test file. It ends by itself
 * once the fixture's group is gone.
 */
function startWatchdog(pgid) {
  const script =
    `while kill -0 ${process.pid} 2>/dev/null && kill -0 -${pgid} 2>/dev/null; do sleep 1; done; ` +
    `kill -KILL -${pgid} 2>/dev/null; exit 0`;
  const dog = spawn("/bin/sh", ["-c", script], { detached: true, stdio: "ignore" });
  dog.on("error", () => {});
  dog.unref();
  return dog;
}

function stopWatchdog(dog) {
  if (dog.exitCode !== null || dog.signalCode !== null) return;
  try {
    process.kill(-dog.pid, "SIGKILL");
  } catch {
    // gone
  }
}

function defaultLogName() {
  const main = process.argv[1] ? path.basename(process.argv[1]) : "fixture";
  return main.replace(/\.test\.m?js$/, "").replace(/\.m?js$/, "");
}

/**
 * Starts the fixture under test with `$FIXTURE_CMD --profile <profile> --port <port>`
 * in its own process group. Output is appended to .work/results/<name>.fixture.log.
 *
 * @param {string} profile  protocol | eio-client | sio-client
 * @param {{name?: string, args?: string[], timeoutMs?: number}} [options]
 *   name: log file name (default: the test file's name);
 *   args: replaces the `--profile … --port …` arguments (CLI tests).
 * @returns {Promise<{port: number, url: string, wsUrl: string, pid: number, logFile: string,
 *   stop: () => Promise<{code: number|null, signal: string|null, killed: boolean}>}>}
 */
export async function startFixture(profile, options = {}) {
  const name = options.name ?? defaultLogName();
  const cmd = process.env.FIXTURE_CMD || DEFAULT_FIXTURE_CMD;
  const timeoutMs =
    options.timeoutMs ?? (Number(process.env.FIXTURE_START_TIMEOUT) > 0 ? Number(process.env.FIXTURE_START_TIMEOUT) * 1000 : 60_000);
  const port = await freePort();
  const args = options.args ?? ["--profile", profile, "--port", String(port)];

  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const logFile = path.join(RESULTS_DIR, `${name}.fixture.log`);
  let logStart = 0;
  try {
    logStart = fs.statSync(logFile).size;
  } catch {
    // new log
  }
  fs.appendFileSync(logFile, `\n=== ${new Date().toISOString()} ${cmd} ${args.join(" ")}\n`);
  const fd = fs.openSync(logFile, "a");
  // The fixture runs in its own process group (detached), `exec`-ed so that it
  // is the group leader we signal.
  let child;
  try {
    child = spawn("/bin/sh", ["-c", `exec ${cmd} "$@"`, "fixture", ...args], {
      cwd: CONFORMANCE_DIR,
      detached: true,
      stdio: ["ignore", fd, fd],
    });
  } finally {
    fs.closeSync(fd);
  }
  running.add(child);
  const watchdog = startWatchdog(child.pid);

  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exitInfo = { code, signal };
      running.delete(child);
      resolve(exitInfo);
    });
    child.once("error", (err) => {
      exitInfo = { code: null, signal: null, error: err };
      running.delete(child);
      resolve(exitInfo);
    });
  });

  let stopping = null;
  const stop = () => {
    stopping ??= (async () => {
      const signalGroup = (sig) => {
        try {
          process.kill(-child.pid, sig);
        } catch {
          // group already gone
        }
      };
      stopWatchdog(watchdog);
      if (exitInfo) {
        signalGroup("SIGKILL"); // anything the fixture left behind
        return { ...exitInfo, killed: false };
      }
      signalGroup("SIGTERM");
      let timer;
      const grace = new Promise((resolve) => {
        timer = setTimeout(() => resolve("timeout"), 5000);
      });
      const first = await Promise.race([exited, grace]);
      clearTimeout(timer);
      let killed = false;
      if (first === "timeout") {
        killed = true;
        signalGroup("SIGKILL");
        await exited;
      }
      // anything the fixture left in its group goes too
      signalGroup("SIGKILL");
      return { ...exitInfo, killed };
    })();
    return stopping;
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitInfo) {
      await stop();
      throw new Error(
        `fixture exited before accepting connections (code ${exitInfo.code}, signal ${exitInfo.signal}` +
          `${exitInfo.error ? `, ${exitInfo.error.message}` : ""}); command: ${cmd} ${args.join(" ")}\n` +
          `--- ${logFile} (tail) ---\n${tailOf(logFile, logStart)}`,
      );
    }
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`fixture did not accept connections on 127.0.0.1:${port} within ${timeoutMs} ms\n` +
        `--- ${logFile} (tail) ---\n${tailOf(logFile, logStart)}`);
    }
    await delay(50);
  }

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    pid: child.pid,
    logFile,
    exited,
    stop,
  };
}

/**
 * Runs `$FIXTURE_CMD <args…>` to completion (for command-line checks).
 * Resolves with {code, signal, output}; kills the process group after timeoutMs.
 */
export async function runFixtureCommand(args, { timeoutMs = 10_000 } = {}) {
  const cmd = process.env.FIXTURE_CMD || DEFAULT_FIXTURE_CMD;
  const child = spawn("/bin/sh", ["-c", `exec ${cmd} "$@"`, "fixture", ...args], {
    cwd: CONFORMANCE_DIR,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // gone
    }
  }, timeoutMs);
  const [code, signal] = await new Promise((resolve) => child.once("exit", (c, s) => resolve([c, s])));
  clearTimeout(timer);
  running.delete(child);
  return { code, signal, output };
}

// ---------------------------------------------------------------------------
// HTTP probes
// ---------------------------------------------------------------------------

/** Keep-alive agent; idle sockets are dropped after 2 s (before any server keep-alive timeout). */
export const agent = new http.Agent({ keepAlive: true, timeout: 2000, maxSockets: Infinity });

/**
 * Starts an HTTP request and returns {req, response}; `response` resolves with
 * {status, headers, rawHeaders, body (text), buffer}. Use `req.destroy()` to abort.
 */
export function startRequest(url, { method = "GET", body, headers = {}, timeout = 10_000, agent: useAgent = agent } = {}) {
  const u = new URL(url);
  const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(String(body), "utf8");
  const allHeaders = { ...headers };
  if (payload !== undefined && !Object.keys(allHeaders).some((h) => h.toLowerCase() === "content-length")) {
    allHeaders["Content-Length"] = String(payload.length);
  }
  if (payload !== undefined && !Object.keys(allHeaders).some((h) => h.toLowerCase() === "content-type")) {
    allHeaders["Content-Type"] = "text/plain;charset=UTF-8";
  }
  let req;
  const response = new Promise((resolve, reject) => {
    req = http.request(
      { hostname: u.hostname.replace(/^\[(.*)\]$/, "$1"), port: u.port, path: u.pathname + u.search, method, headers: allHeaders, agent: useAgent },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          clearTimeout(timer);
          const buffer = Buffer.concat(chunks);
          resolve({
            status: res.statusCode,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: buffer.toString("utf8"),
            buffer,
          });
        });
        res.on("error", (err) => {
          clearTimeout(timer);
          reject(err);
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`${method} ${url}: no response within ${timeout} ms`));
    }, timeout);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(payload);
  });
  return { req, response };
}

/** HTTP request; resolves with {status, headers, rawHeaders, body, buffer}. */
export function request(url, options = {}) {
  return startRequest(url, options).response;
}

export const get = (url, options = {}) => request(url, { ...options, method: "GET" });
export const post = (url, body, options = {}) => request(url, { ...options, method: "POST", body });

/** Values of one response header, in wire order, from rawHeaders. */
export function rawHeaderValues(res, name) {
  const out = [];
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    if (res.rawHeaders[i].toLowerCase() === name.toLowerCase()) out.push(res.rawHeaders[i + 1]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// WebSocket probe
// ---------------------------------------------------------------------------

const openSockets = new Set();

/**
 * A `ws` client that never loses a message: every message goes to a queue and
 * waitFor() takes them in order, whether it was called before or after arrival.
 * Messages are {data, binary}: `data` is a string for text frames, a Buffer for
 * binary frames.
 */
export class WsProbe {
  constructor(url, options = {}) {
    this.url = url;
    this.queue = [];
    this.waiters = [];
    this.closeInfo = null;
    this.error = null;
    this.status = null; // HTTP status of a refused upgrade
    this.upgradeHeaders = null;
    this.autoPong = false; // see enableAutoPong()
    this.pingsAnswered = 0;
    this.ws = new WebSocket(url, options);
    openSockets.add(this);
    this.ws.on("upgrade", (res) => {
      this.upgradeHeaders = res.headers;
      this.upgradeRawHeaders = res.rawHeaders;
    });
    this.ws.on("message", (data, isBinary) => {
      const msg = isBinary ? { data: Buffer.from(data), binary: true } : { data: data.toString("utf8"), binary: false };
      if (this.autoPong && !msg.binary && msg.data === "2") {
        this.#pong();
        return;
      }
      const waiter = this.waiters.shift();
      if (waiter) waiter.resolve(msg);
      else this.queue.push(msg);
    });
    this.ws.on("error", (err) => {
      this.error = err;
      const m = /Unexpected server response: (\d+)/.exec(err.message);
      if (m) this.status = Number(m[1]);
    });
    this.closed = new Promise((resolve) => {
      this.ws.on("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString("utf8") };
        openSockets.delete(this);
        for (const w of this.waiters.splice(0)) w.reject(new Error(`WebSocket closed (code ${code}) while waiting for a message`));
        resolve(this.closeInfo);
      });
    });
    this.opened = new Promise((resolve) => {
      this.ws.once("open", () => resolve(true));
      this.closed.then(() => resolve(false));
    });
  }

  /** Resolves true once open, false if the connection was refused or closed first. */
  waitForOpen() {
    return this.opened;
  }

  send(data) {
    this.ws.send(data);
  }

  #pong() {
    this.pingsAnswered++;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send("3");
  }

  /**
   * From now on, answer every server ping `2` with `3` as soon as it arrives
   * (pings already queued included) and keep pings out of the queue, so that
   * a short pingTimeout cannot end the session while a test is busy. Returns
   * the probe.
   */
  enableAutoPong() {
    this.autoPong = true;
    const rest = [];
    for (const msg of this.queue) {
      if (!msg.binary && msg.data === "2") this.#pong();
      else rest.push(msg);
    }
    this.queue = rest;
    return this;
  }

  /**
   * Next message. With {skipPings: true}, server pings `2` are answered with `3`
   * and skipped.
   */
  async waitFor({ timeout = 3000, skipPings = false } = {}) {
    for (;;) {
      const msg = await this.#next(timeout);
      if (skipPings && !msg.binary && msg.data === "2") {
        if (this.ws.readyState === WebSocket.OPEN) this.ws.send("3");
        continue;
      }
      return msg;
    }
  }

  #next(timeout) {
    if (this.queue.length > 0) return Promise.resolve(this.queue.shift());
    if (this.closeInfo) return Promise.reject(new Error(`WebSocket closed (code ${this.closeInfo.code}); no message left`));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no WebSocket message within ${timeout} ms`));
      }, timeout);
      this.waiters.push(waiter);
    });
  }

  /** Next text message (string); fails on a binary one. */
  async waitForText(options) {
    const msg = await this.waitFor(options);
    if (msg.binary) throw new Error(`expected a text frame, got binary ${msg.data.toString("hex")}`);
    return msg.data;
  }

  /** Resolves with {code, reason} when the connection closes; rejects after timeout. */
  async waitForClose(timeout = 3000) {
    let timer;
    const t = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`WebSocket not closed within ${timeout} ms`)), timeout);
    });
    try {
      return await Promise.race([this.closed, t]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Messages received so far and not yet taken. */
  pending() {
    return this.queue.slice();
  }

  close() {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close();
  }

  terminate() {
    this.ws.terminate();
  }
}

/** Opens a WebSocket probe and waits until it is open (throws if refused). */
export async function openWs(url, options) {
  const probe = new WsProbe(url, options);
  if (!(await probe.waitForOpen())) {
    throw new Error(`WebSocket to ${url} refused (status ${probe.status}, ${probe.error?.message ?? "closed"})`);
  }
  return probe;
}

/** Drops every client connection the helpers opened (call in `after`). */
export function closeClients() {
  for (const probe of openSockets) probe.terminate();
  openSockets.clear();
  agent.destroy();
}

// ---------------------------------------------------------------------------
// tests with expected failures
// ---------------------------------------------------------------------------

let expectedFailures;

export function loadExpectedFailures() {
  if (expectedFailures) return expectedFailures;
  const file = path.join(CONFORMANCE_DIR, "expected-failures.json");
  try {
    expectedFailures = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    if (err.code !== "ENOENT") throw new Error(`cannot read ${file}: ${err.message}`);
    expectedFailures = {};
  }
  return expectedFailures;
}

/**
 * describe/it for a test file. A test whose key `"<file> › <describe…> › <name>"`
 * is listed in expected-failures.json runs as a `todo` (a failure is reported,
 * not counted) unless the suite runs against the reference fixture.
 */
export function conformance(metaUrl) {
  const file = path.basename(fileURLToPath(metaUrl));
  const stack = [];
  const expected = loadExpectedFailures();

  const split = (opts, fn) => (typeof opts === "function" ? [{}, opts] : [opts ?? {}, fn]);

  function describe(name, opts, fn) {
    [opts, fn] = split(opts, fn);
    return nodeTest.describe(name, opts, () => {
      stack.push(name);
      try {
        return fn();
      } finally {
        stack.pop();
      }
    });
  }

  function it(name, opts, fn) {
    [opts, fn] = split(opts, fn);
    const key = [file, ...stack, name].join(" › ");
    const reason = expected[key];
    if (reason && !IS_REFERENCE) opts = { ...opts, todo: `expected failure: ${reason}` };
    return nodeTest.it(name, opts, fn);
  }

  return { describe, it, before: nodeTest.before, after: nodeTest.after, beforeEach: nodeTest.beforeEach, afterEach: nodeTest.afterEach };
}
