// Shared helpers of the tests that drive the real `herald` binary: free ports, starting
// herald with a config file, minting tokens with `herald token`, connecting
// socket.io-client, POST /send, polling for a condition.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const CONFORMANCE = path.join(REPO, "conformance");
export const HERALD = process.env.HERALD_BIN ?? path.join(REPO, "target/release/herald");

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port that is free on 127.0.0.1 right now. */
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

/** Resolves once 127.0.0.1:`port` accepts TCP connections; fails if `child` exits first. */
export async function waitForPort(port, child, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`herald exited early (${child.exitCode})`);
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      c.on("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.on("error", () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error("herald did not start listening");
}

/** The environment without HERALD_* variables (so a developer's settings don't leak in). */
export const cleanEnv = () =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("HERALD_")));

/**
 * Starts herald on a free port: with `config` (the TOML after `listen`/`[ops]`, which are
 * added; `ops` is the ops listener, default a free loopback port nobody reads) or, when it
 * is null, with `args` alone; on `port` when given (a restart on the same address), else a
 * free one. Returns { child, port, opsPort, configPath, output(), rssKb(), stop() }.
 */
export async function startHerald({ config = null, args = [], ops = null, port: fixedPort = null } = {}) {
  const port = fixedPort ?? (await freePort());
  let argv = [...args, "--listen", `127.0.0.1:${port}`];
  let configPath = null;
  const opsPort = ops === null ? 0 : ops;
  if (config !== null) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "herald-test-"));
    configPath = path.join(dir, "herald.toml");
    writeFileSync(configPath, `listen = "127.0.0.1:${port}"\n[ops]\nlisten = "127.0.0.1:${opsPort}"\n${config}`);
    argv = [...args, "--config", configPath];
  }
  const child = spawn(HERALD, argv, { stdio: ["ignore", "pipe", "pipe"], env: cleanEnv() });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  await waitForPort(port, child);
  return {
    child,
    port,
    opsPort,
    configPath,
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    /** The resident set size of the herald process, in KiB (from /proc). */
    rssKb() {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
    },
    /** Open file descriptors of the herald process. */
    openFds: () => readdirSync(`/proc/${child.pid}/fd`).length,
    /** A JWT minted by `herald token` from this instance's config. */
    token(sub, site, ttl = "1h") {
      return execFileSync(HERALD, ["--config", configPath, "token", "--site", site, "--sub", sub, "--ttl", ttl], {
        env: cleanEnv(),
      })
        .toString()
        .trim();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
    },
  };
}

/** Polls `fn` every 10 ms until it is truthy; fails after `ms`. */
export async function until(fn, ms = 3000, what = "condition") {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(10);
  }
  throw new Error(`${what} not met within ${ms} ms`);
}

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/**
 * A JWT signed here (not by herald) with HMAC-SHA-`bits` and `secret`, or unsigned
 * (`alg` "none", empty signature) when `secret` is null: for tokens herald must refuse.
 * `header` fields are merged over {alg, typ}.
 */
export async function signJwt(claims, secret, { alg = "HS256", header = {} } = {}) {
  const { createHmac } = await import("node:crypto");
  const h = b64url(JSON.stringify({ alg, typ: "JWT", ...header }));
  const p = b64url(JSON.stringify(claims));
  if (secret === null) return `${h}.${p}.`;
  const hash = { HS256: "sha256", HS384: "sha384", HS512: "sha512" }[alg] ?? "sha256";
  return `${h}.${p}.${b64url(createHmac(hash, secret).update(`${h}.${p}`).digest())}`;
}

/** Seconds since the epoch. */
export const now = () => Math.floor(Date.now() / 1000);
