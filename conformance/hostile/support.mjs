// Helpers of the hostile-input suite: raw TCP exchanges, a WebSocket session on the
// `protocol` profile's /socket.io/ endpoint, "what did the server do" summaries, and the
// health checks that every case ends with: a well-behaved socket.io-client on the same
// server still connects and gets its answer within normal time.
import { after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { io } from "socket.io-client";
import { IS_REFERENCE, openWs } from "../test/support/fixture.mjs";

export { IS_REFERENCE };

/** What a normal exchange may take on a busy 2-core CI machine before it counts as stuck. */
export const PROMPT_MS = 5000;

/**
 * Writes `data` (string as latin1 bytes, or Buffer) to a fresh TCP connection and collects
 * the answer until the server closes or `ms` pass. Resolves with {status, head, bytes,
 * closed, reset}: `status` of the first HTTP response line (null when none), `head` the text
 * of the answer up to the first blank line.
 */
export function rawExchange(port, data, { ms = 3000 } = {}) {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    let out = Buffer.alloc(0);
    let reset = false;
    const done = (closed) => {
      clearTimeout(timer);
      c.removeAllListeners("close");
      if (!closed) c.destroy();
      const text = out.toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, head: text.split("\r\n\r\n")[0], bytes: out, closed, reset });
    };
    c.on("data", (d) => (out = Buffer.concat([out, d])));
    c.on("error", (e) => {
      if (e.code === "ECONNRESET" || e.code === "EPIPE") reset = true;
    });
    c.on("close", () => done(true));
    const timer = setTimeout(() => done(false), ms);
    c.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  });
}

/**
 * socket.io-client against the `protocol` fixture's `/` namespace: connects (polling,
 * then the WebSocket upgrade), gets the `auth` event, and an ack of `message-with-ack`.
 * Fails when any step takes longer than PROMPT_MS.
 */
export async function assertFixtureHealthy(fx, { transports } = {}) {
  const socket = io(fx.url, { forceNew: true, reconnection: false, timeout: PROMPT_MS, ...(transports ? { transports } : {}) });
  try {
    const auth = new Promise((resolve) => socket.once("auth", resolve));
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      }),
      "a well-behaved client connects",
    );
    assert.deepEqual(await withTimeout(auth, "the auth event"), {});
    const tag = `healthy-${Math.random().toString(36).slice(2)}`;
    const acked = await withTimeout(
      new Promise((resolve) => socket.emit("message-with-ack", tag, { n: 1 }, (...args) => resolve(args))),
      "the ack",
    );
    assert.deepEqual(acked, [tag, { n: 1 }]);
  } finally {
    socket.close();
  }
}

/** Resolves `p`, or fails with "<what> within PROMPT_MS". */
export async function withTimeout(p, what, ms = PROMPT_MS) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A raw WebSocket session on the `protocol` fixture's /socket.io/ that answers pings by
 * itself; with `join`, joined to `/` (CONNECT reply and `auth` event taken).
 */
export async function sioWs(fx, { join = true } = {}) {
  const ws = await openWs(`${fx.wsUrl}/socket.io/?EIO=4&transport=websocket`);
  assert.match(await ws.waitForText(), /^0\{"sid":/);
  ws.enableAutoPong();
  if (join) {
    ws.send("40");
    assert.match(await ws.waitForText(), /^40\{"sid":/);
    assert.equal(await ws.waitForText(), '42["auth",{}]');
  }
  return ws;
}

/**
 * Up to `n` next frames (text as is, binary as `<bin LEN>`), stopping at the first
 * silence of `ms` or at the close. Returns {frames, close} (close: {code, reason} or null).
 */
export async function frames(ws, n, ms = 1000) {
  const out = [];
  for (let i = 0; i < n; i++) {
    let m;
    try {
      m = await ws.waitFor({ timeout: ms, skipPings: true });
    } catch {
      break;
    }
    out.push(m.binary ? `<bin ${m.data.length}>` : m.data);
  }
  if (ws.closeInfo === null) {
    await ws.waitForClose(50).catch(() => {});
  }
  return { frames: out, close: ws.closeInfo };
}

/** The answer to a `message` sent last: proves the connection still works and kept order. */
export async function assertEchoes(ws, tag = "after") {
  ws.send(`42["message","${tag}"]`);
  for (;;) {
    const m = await ws.waitFor({ timeout: PROMPT_MS, skipPings: true });
    if (!m.binary && m.data === `42["message-back","${tag}"]`) return;
  }
}

/** Asserts that the server closed `ws` (close frame without a status, as Engine.IO does) having sent nothing. */
export async function assertClosedSilently(ws, { code = 1005 } = {}) {
  const { frames: got, close } = await frames(ws, 1, PROMPT_MS);
  assert.deepEqual(got, [], "nothing sent before the close");
  assert.ok(close, "the server closed the connection");
  assert.equal(close.code, code, `close code (${JSON.stringify(close)})`);
}

/**
 * A well-behaved herald client: socket.io-client with `token` on `nsp` connects, and a
 * POST /send to its user room (`room`) reaches it. Fails when a step takes longer than
 * PROMPT_MS.
 */
export async function assertHeraldHealthy(h, { token, key, site, room, nsp = "/", transports } = {}) {
  const socket = io(`${h.url}${nsp}`, {
    forceNew: true,
    reconnection: false,
    timeout: PROMPT_MS,
    auth: { token },
    ...(transports ? { transports } : {}),
  });
  try {
    await withTimeout(
      new Promise((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      }),
      "a well-behaved herald client connects",
    );
    const tag = `healthy-${Math.random().toString(36).slice(2)}`;
    const got = new Promise((resolve) => socket.once("health", resolve));
    const res = await fetch(`${h.url}/send?site=${site}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": key },
      body: JSON.stringify({ rooms: [room], event: "health", args: [tag] }),
    });
    assert.equal(res.status, 202, await res.text());
    assert.equal(await withTimeout(got, "the pushed message"), tag);
  } finally {
    socket.close();
  }
}

/** The value of the unlabelled metric `name` on herald's ops listener. */
export async function metric(opsPort, name) {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

/** Polls `fn` (returning `{ok, ...}`) every `every` ms until ok, failing with `what` after `ms`. */
export async function waitFor(fn, ms, what, every = 100) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v.ok) return v;
    if (Date.now() > deadline) assert.fail(`${what} within ${ms} ms (last: ${JSON.stringify(v)})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Stops every herald in `running` when the file's tests are done. */
export function stopAllAfter(running) {
  after(async () => {
    for (const h of running) await h.stop();
  });
}

/** Config text: `extra` (e.g. a `[limits]` table), then one JWT site "app" with API key `key`. */
export const jwtSite = (key, secret, extra = "") => `${extra}
[[sites]]
name = "app"
api_keys = ["${key}"]
[sites.auth]
mode = "jwt"
secret = "${secret}"
`;
