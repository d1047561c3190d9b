// Socket.IO v5 helpers for raw probes: wire strings, CONNECT replies, raw
// Engine.IO polling sessions that answer pings, WebSocket connects.
//
// Notation as in FIXTURES.md: `42["x"]` is the text of one Engine.IO packet;
// over polling it is one record of the payload, over WebSocket one text frame.

import assert from "node:assert/strict";
import { get, post, sleep } from "./fixture.mjs";

/** Polling record separator. */
export const RS = "\x1e";

/** The `<nsp>,` part of a Socket.IO packet as the encoder writes it: nothing for `/`. */
export const nspPrefix = (nsp) => (nsp === "/" ? "" : `${nsp},`);

/** A binary placeholder as JSON.stringify writes it. */
export const ph = (n) => `{"_placeholder":true,"num":${n}}`;

/** `b<base64>` record of a polling payload for these bytes. */
export const b64Record = (bytes) => `b${Buffer.from(bytes).toString("base64")}`;

/** Bytes of a `b<base64>` polling record. */
export function bytesOfRecord(record) {
  assert.equal(typeof record, "string");
  assert.equal(record[0], "b", `expected a binary record, got ${JSON.stringify(record)}`);
  return [...Buffer.from(record.slice(1), "base64")];
}

/**
 * Checks an Engine.IO OPEN packet `0{…}` (keys sid, upgrades, pingInterval,
 * pingTimeout, maxPayload in that order, compact JSON) and returns it parsed.
 */
export function parseOpenPacket(text, { pingInterval, pingTimeout, maxPayload, upgrades }) {
  assert.equal(typeof text, "string");
  assert.equal(text[0], "0", `expected an OPEN packet, got ${JSON.stringify(text)}`);
  const json = text.slice(1);
  const open = JSON.parse(json);
  assert.deepEqual(Object.keys(open), ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"], "OPEN packet keys");
  assert.equal(json, JSON.stringify(open), "OPEN packet JSON is compact");
  assert.equal(typeof open.sid, "string");
  assert.ok(open.sid.length > 0, "non-empty sid");
  if (pingInterval !== undefined) assert.equal(open.pingInterval, pingInterval);
  if (pingTimeout !== undefined) assert.equal(open.pingTimeout, pingTimeout);
  if (maxPayload !== undefined) assert.equal(open.maxPayload, maxPayload);
  if (upgrades !== undefined) assert.deepEqual(open.upgrades, upgrades);
  return open;
}

/**
 * Checks a Socket.IO CONNECT reply `40[<nsp>,]{…}`: the namespace, compact
 * JSON, exactly `keys` in that order, all non-empty strings. Returns the
 * parsed payload.
 */
export function parseConnectReply(text, nsp = "/", keys = ["sid"]) {
  assert.equal(typeof text, "string", "CONNECT reply is a text packet");
  const head = `40${nspPrefix(nsp)}`;
  assert.ok(text.startsWith(`${head}{`), `expected a CONNECT reply ${head}{…}, got ${JSON.stringify(text)}`);
  const json = text.slice(head.length);
  const payload = JSON.parse(json);
  assert.equal(json, JSON.stringify(payload), "CONNECT reply JSON is compact");
  assert.deepEqual(Object.keys(payload), keys, `CONNECT reply keys in ${JSON.stringify(text)}`);
  for (const k of keys) {
    assert.equal(typeof payload[k], "string", `${k} is a string`);
    assert.ok(payload[k].length > 0, `${k} is not empty`);
  }
  return payload;
}

/**
 * Splits `42[…]` / `42/nsp,[…]` / `42<id>[…]` text into {type, attachments,
 * nsp, id, data} (just enough for assertions; not a full parser).
 */
export function splitPacket(text) {
  const m = /^4([0-6])(?:(\d+)-)?(\/[^,]*,)?(\d+)?(.*)$/s.exec(text);
  assert.ok(m, `not a Socket.IO packet: ${JSON.stringify(text)}`);
  return {
    type: Number(m[1]),
    attachments: m[2] === undefined ? undefined : Number(m[2]),
    nsp: m[3] === undefined ? "/" : m[3].slice(0, -1),
    id: m[4] === undefined ? undefined : Number(m[4]),
    data: m[5] === "" ? undefined : JSON.parse(m[5]),
  };
}

// ---------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------

/**
 * Sends CONNECT for `nsp` (with `auth` as payload when given) on a WsProbe and
 * returns the reply's payload ({sid} or {sid, pid}). Only the reply is taken.
 */
export async function wsConnectNsp(ws, nsp = "/", { auth, keys = ["sid"], comma = true, timeout = 5000 } = {}) {
  if (!comma && auth !== undefined) throw new Error("a CONNECT with a payload needs the comma after the namespace");
  const prefix = nsp === "/" ? "" : comma ? `${nsp},` : nsp;
  ws.send(`40${prefix}${auth === undefined ? "" : JSON.stringify(auth)}`);
  return parseConnectReply(await ws.waitForText({ timeout, skipPings: true }), nsp, keys);
}

/** Next non-ping text frames, `n` of them. */
export async function wsTexts(ws, n, { timeout = 5000 } = {}) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await ws.waitForText({ timeout, skipPings: true }));
  return out;
}

/** Next non-ping frame as a string: text as is, binary as `<bin hex…>`. */
export async function wsNext(ws, { timeout = 5000 } = {}) {
  const m = await ws.waitFor({ timeout, skipPings: true });
  return m.binary ? `<bin ${[...m.data].map((b) => b.toString(16).padStart(2, "0")).join(" ")}>` : m.data;
}

/**
 * Asserts that nothing but pings arrives for `ms` (the probe should have
 * auto-pong on, or pings are answered and skipped here).
 */
export async function wsExpectQuiet(ws, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    let msg;
    try {
      msg = await ws.waitFor({ timeout: left, skipPings: true });
    } catch (err) {
      if (/no WebSocket message within/.test(err.message)) return;
      throw err;
    }
    assert.fail(`expected no message, got ${msg.binary ? `binary ${msg.data.toString("hex")}` : JSON.stringify(msg.data)}`);
  }
}

// ---------------------------------------------------------------------------
// HTTP long-polling
// ---------------------------------------------------------------------------

/**
 * A raw Engine.IO polling session. `poll()` answers pings at once (POST `3`)
 * and keeps every other record, in order, in `records`; `take(n)` polls until
 * `n` records are there.
 */
export class PollingSession {
  /**
   * @param {string} endpoint  e.g. http://127.0.0.1:3000/socket.io/
   * @param {string} sid
   */
  constructor(endpoint, sid) {
    this.endpoint = endpoint;
    this.sid = sid;
    this.records = [];
    this.payloads = []; // raw bodies of the GETs, pings included
    this.pings = 0;
  }

  /** Opens a session with a polling handshake; `query` is appended to the handshake URL. */
  static async open(endpoint, { query = "", expect = {} } = {}) {
    const res = await get(`${endpoint}?EIO=4&transport=polling${query ? `&${query}` : ""}`);
    assert.equal(res.status, 200, `handshake status (body ${res.body})`);
    const open = parseOpenPacket(res.body, expect);
    const session = new PollingSession(endpoint, open.sid);
    session.open = open;
    return session;
  }

  get url() {
    return `${this.endpoint}?EIO=4&transport=polling&sid=${encodeURIComponent(this.sid)}`;
  }

  /** POSTs the records as one payload; asserts 200 `ok`. */
  async send(...records) {
    const res = await post(this.url, records.join(RS));
    assert.equal(res.status, 200, `POST status (body ${JSON.stringify(res.body)})`);
    assert.equal(res.body, "ok");
  }

  /** One GET (asserts 200); answers a ping in it; returns the payload's records, pings included. */
  async poll({ timeout = 10_000 } = {}) {
    const res = await get(this.url, { timeout });
    assert.equal(res.status, 200, `GET status (body ${JSON.stringify(res.body)})`);
    this.payloads.push(res.body);
    const records = res.body.split(RS);
    for (const r of records) {
      if (r === "2") {
        this.pings++;
        await this.send("3");
      } else {
        this.records.push(r);
      }
    }
    return records;
  }

  /** The next `n` non-ping records, polling as needed. */
  async take(n, { timeout = 5000 } = {}) {
    const deadline = Date.now() + timeout;
    while (this.records.length < n) {
      if (Date.now() > deadline) {
        assert.fail(`expected ${n} records within ${timeout} ms, got ${JSON.stringify(this.records)}`);
      }
      await this.poll({ timeout: Math.max(1000, deadline - Date.now() + 1000) });
    }
    return this.records.splice(0, n);
  }

  /** Connects a namespace over this session; returns the CONNECT reply payload. The `auth` event is left in `records`. */
  async connectNsp(nsp = "/", { auth, keys = ["sid"] } = {}) {
    await this.send(`40${nspPrefix(nsp)}${auth === undefined ? "" : JSON.stringify(auth)}`);
    const [reply] = await this.take(1);
    return parseConnectReply(reply, nsp, keys);
  }

  /**
   * Polls until the session is gone (a GET gets `400 {"code":1,…}`), answering
   * pings; a close packet `1` on the way is fine. Returns the other records
   * received meanwhile (noops `6` and close `1` excluded).
   */
  async expectClosed({ timeout = 5000 } = {}) {
    const deadline = Date.now() + timeout;
    const others = [];
    for (;;) {
      if (Date.now() > deadline) assert.fail(`polling session ${this.sid} still open after ${timeout} ms`);
      const res = await get(this.url, { timeout: Math.max(1000, deadline - Date.now()) }).catch((err) => ({ error: err }));
      if (res.error) {
        // a pending GET cut off by the closing server also ends it
        await sleep(20);
        continue;
      }
      if (res.status === 400) {
        assert.equal(res.headers["content-type"], "application/json");
        assert.equal(res.body, JSON.stringify({ code: 1, message: "Session ID unknown" }));
        others.push(...this.records.splice(0));
        return others;
      }
      assert.equal(res.status, 200, `GET status ${res.status} (body ${JSON.stringify(res.body)})`);
      for (const r of res.body.split(RS)) {
        if (r === "2") {
          this.pings++;
          await post(this.url, "3").catch(() => {});
        } else if (r !== "1" && r !== "6") {
          others.push(r);
        }
      }
    }
  }
}
