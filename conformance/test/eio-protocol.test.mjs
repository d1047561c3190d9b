// Engine.IO v4 wire behaviour of the `protocol` profile, endpoint /engine.io/
// (echo server: pingInterval 300, pingTimeout 200, maxPayload 1000000, CORS "*").
//
// Black-box tests over raw HTTP and WebSocket. They cover what the official
// Engine.IO v4 protocol suite checks, plus the exact wire details of the
// reference server (headers, error bodies, check order, size limits, upgrade
// races). Timing assertions only bound protocol deadlines, with wide slack.

import assert from "node:assert/strict";
import http from "node:http";
import {
  closeClients,
  conformance,
  get,
  openWs,
  post,
  request,
  sleep,
  startFixture,
  startRequest,
  WsProbe,
} from "./support/fixture.mjs";

const { describe, it, before, after } = conformance(import.meta.url);

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1_000_000;
const RS = "\x1e";
const OPEN_KEYS = ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"];

let fx;

before(async () => {
  fx = await startFixture("protocol");
});

after(async () => {
  closeClients();
  await fx?.stop();
});

// --- helpers -------------------------------------------------------------------

const eio = (query) => `${fx.url}/engine.io/?${query}`;
const pollUrl = (sid) => eio(`EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`);
const wsUrl = (sid, path = "/engine.io/") =>
  `${fx.wsUrl}${path}?EIO=4&transport=websocket${sid ? `&sid=${encodeURIComponent(sid)}` : ""}`;

function parseOpen(text) {
  assert.equal(text[0], "0", `expected an OPEN packet, got ${JSON.stringify(text)}`);
  const json = text.slice(1);
  const open = JSON.parse(json);
  assert.deepEqual(Object.keys(open), OPEN_KEYS, "OPEN packet keys (set and order)");
  assert.equal(json, JSON.stringify(open), "OPEN packet JSON is compact");
  assert.equal(typeof open.sid, "string");
  assert.ok(open.sid.length > 0, "non-empty sid");
  assert.equal(open.pingInterval, PING_INTERVAL);
  assert.equal(open.pingTimeout, PING_TIMEOUT);
  assert.equal(open.maxPayload, MAX_PAYLOAD);
  return open;
}

/** Polling handshake; returns the sid. */
async function handshake() {
  const res = await get(eio("EIO=4&transport=polling"));
  assert.equal(res.status, 200, `handshake status (body ${res.body})`);
  return parseOpen(res.body).sid;
}

function assertError(res, status, code, message) {
  assert.equal(res.status, status, `status (body ${JSON.stringify(res.body)})`);
  assert.equal(res.headers["content-type"], "application/json");
  assert.equal(res.body, JSON.stringify({ code, message }));
}

const assertUnknownSid = (res) => assertError(res, 400, 1, "Session ID unknown");
const assertBadRequest = (res) => assertError(res, 400, 3, "Bad request");

/**
 * Polling payload comparison that tolerates server pings: `2` records are
 * dropped (a slow machine may let the 300 ms ping into the payload), the rest
 * must match exactly, framing included.
 */
function assertPayload(body, expected) {
  const records = body.split(RS).filter((r) => r !== "2");
  assert.equal(records.join(RS), expected, `payload ${JSON.stringify(body)}`);
}

/** Polling session upgraded to WebSocket; returns {sid, ws}. */
async function upgradedSession() {
  const sid = await handshake();
  const ws = await openWs(wsUrl(sid));
  ws.send("2probe");
  assert.equal(await ws.waitForText({ skipPings: true }), "3probe");
  ws.send("5");
  // the session is on the WebSocket once an echo comes back over it
  ws.send("4upgraded");
  assert.equal(await ws.waitForText({ skipPings: true }), "4upgraded");
  return { sid, ws };
}

/** WebSocket-only session; returns the probe after checking the OPEN packet. */
async function wsSession() {
  const ws = await openWs(wsUrl());
  const open = parseOpen(await ws.waitForText());
  assert.deepEqual(open.upgrades, []);
  return ws;
}

/** Waits until the server closes the WebSocket, and checks no OPEN packet came. */
async function assertWsClosedWithoutOpen(probe) {
  await probe.waitForClose(5000);
  for (const m of probe.pending()) {
    assert.ok(m.binary || !m.data.startsWith("0{"), `unexpected OPEN packet ${m.data}`);
  }
}

// --- handshake -------------------------------------------------------------------

describe("handshake", () => {
  describe("HTTP long-polling", () => {
    it("successfully opens a session", async () => {
      const res = await get(eio("EIO=4&transport=polling"));
      assert.equal(res.status, 200);
      const open = parseOpen(res.body);
      assert.deepEqual(open.upgrades, ["websocket"]);
    });

    it("answers the handshake with the polling response headers", async () => {
      const res = await get(eio("EIO=4&transport=polling"));
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-type"], "text/plain; charset=UTF-8");
      assert.equal(res.headers["cache-control"], "no-store");
      assert.equal(res.headers["content-length"], String(Buffer.byteLength(res.body)));
      assert.equal(res.headers["access-control-allow-origin"], "*");
      assert.equal(res.headers["set-cookie"], undefined, "no cookie on the protocol profile");
    });

    it("gives every session a distinct sid", async () => {
      const sids = new Set();
      for (let i = 0; i < 5; i++) sids.add(await handshake());
      assert.equal(sids.size, 5);
    });

    it("fails with an invalid 'EIO' query parameter", async () => {
      assertError(await get(eio("transport=polling")), 400, 5, "Unsupported protocol version");
      assertError(await get(eio("EIO=abc&transport=polling")), 400, 5, "Unsupported protocol version");
      assertError(await get(eio("EIO=3&transport=polling")), 400, 5, "Unsupported protocol version");
    });

    it("fails with an invalid 'transport' query parameter", async () => {
      assertError(await get(eio("EIO=4")), 400, 0, "Transport unknown");
      assertError(await get(eio("EIO=4&transport=abc")), 400, 0, "Transport unknown");
      assertError(await get(eio("EIO=4&transport=webtransport")), 400, 0, "Transport unknown");
    });

    it("fails with an invalid request method", async () => {
      assertError(await request(eio("EIO=4&transport=polling"), { method: "POST", body: "4hello" }), 400, 2, "Bad handshake method");
      assertError(await request(eio("EIO=4&transport=polling"), { method: "PUT", body: "" }), 400, 2, "Bad handshake method");
      assertError(await request(eio("EIO=4&transport=polling"), { method: "DELETE" }), 400, 2, "Bad handshake method");
    });

    it("fails a plain GET with transport=websocket with code 3", async () => {
      assertBadRequest(await get(eio("EIO=4&transport=websocket")));
    });

    it("checks transport, then sid, then method, then EIO", async () => {
      // transport before EIO
      assertError(await get(eio("")), 400, 0, "Transport unknown");
      assertError(await get(eio("transport=abc")), 400, 0, "Transport unknown");
      assertError(await get(eio("EIO=4")), 400, 0, "Transport unknown");
      // transport before sid
      assertError(await get(eio("EIO=4&transport=abc&sid=unknown")), 400, 0, "Transport unknown");
      // sid before EIO
      assertUnknownSid(await get(eio("transport=polling&sid=unknown")));
      // method before EIO
      assertError(await request(eio("transport=polling"), { method: "POST", body: "4x" }), 400, 2, "Bad handshake method");
      // EIO last
      assertError(await get(eio("transport=polling")), 400, 5, "Unsupported protocol version");
    });

    it("rejects an unknown sid with 400 code 1", async () => {
      assertUnknownSid(await get(eio("EIO=4&transport=polling&sid=unknown")));
      assertUnknownSid(await post(eio("EIO=4&transport=polling&sid=unknown"), "4hello"));
      assertUnknownSid(await get(eio("EIO=4&transport=polling&sid=nope%20nope")));
    });

    it("rejects a request for a polling session with another transport or protocol version (code 3)", async () => {
      const sid = await handshake();
      // plain GET with transport=websocket on a polling session
      assertBadRequest(await get(eio(`EIO=4&transport=websocket&sid=${sid}`)));
      // the EIO version must match the session's
      assertBadRequest(await get(eio(`EIO=3&transport=polling&sid=${sid}`)));
      assertBadRequest(await get(eio(`transport=polling&sid=${sid}`)));
      // the session is unaffected
      assert.equal((await post(pollUrl(sid), "4still")).body, "ok");
      assertPayload((await get(pollUrl(sid))).body, "4still");
    });

    it("decodes the query string like URLSearchParams", async () => {
      // percent-decoding
      let res = await get(eio("EIO=%34&transport=pol%6Cing"));
      assert.equal(res.status, 200);
      parseOpen(res.body);
      // a repeated key: the last value wins
      res = await get(eio("EIO=3&EIO=4&transport=abc&transport=polling"));
      assert.equal(res.status, 200);
      parseOpen(res.body);
      assertError(await get(eio("EIO=4&transport=polling&transport=abc")), 400, 0, "Transport unknown");
    });

    it("matches the endpoint by the prefix /engine.io/", async () => {
      const res = await get(`${fx.url}/engine.io/some/sub/path?EIO=4&transport=polling`);
      assert.equal(res.status, 200);
      parseOpen(res.body);
      const noSlash = await get(`${fx.url}/engine.io?EIO=4&transport=polling`);
      assert.equal(noSlash.status, 404);
      assert.equal(noSlash.body, "");
    });
  });

  describe("WebSocket", () => {
    it("successfully opens a session", async () => {
      const ws = await openWs(wsUrl());
      const open = parseOpen(await ws.waitForText());
      assert.deepEqual(open.upgrades, []);
      ws.close();
    });

    it("declines permessage-deflate", async () => {
      // the ws client offers permessage-deflate by default
      const ws = await openWs(wsUrl(), { perMessageDeflate: true });
      assert.equal(ws.ws.extensions, "");
      assert.equal(ws.upgradeHeaders["sec-websocket-extensions"], undefined);
      parseOpen(await ws.waitForText());
      ws.close();
    });

    it("fails with an invalid 'EIO' query parameter", async () => {
      for (const query of ["transport=websocket", "EIO=abc&transport=websocket", "EIO=3&transport=websocket"]) {
        const probe = new WsProbe(`${fx.wsUrl}/engine.io/?${query}`);
        await assertWsClosedWithoutOpen(probe);
      }
    });

    it("fails with an invalid 'transport' query parameter", async () => {
      for (const query of ["EIO=4", "EIO=4&transport=abc"]) {
        const probe = new WsProbe(`${fx.wsUrl}/engine.io/?${query}`);
        assert.equal(await probe.waitForOpen(), false, `${query}: upgrade refused`);
        assert.equal(probe.status, 400, `${query}: status`);
        await probe.waitForClose(5000);
      }
    });

    it("refuses an upgrade with an unknown sid", async () => {
      const probe = new WsProbe(wsUrl("unknown"));
      assert.equal(await probe.waitForOpen(), false);
      assert.equal(probe.status, 400);
      await probe.waitForClose(5000);
    });

    it("refuses an upgrade on another path", async () => {
      for (const path of ["/other/", "/engine.io", "/"]) {
        const probe = new WsProbe(wsUrl(undefined, path));
        assert.equal(await probe.waitForOpen(), false, `${path}: upgrade refused`);
        assert.notEqual(probe.status, 101);
        await probe.waitForClose(5000);
      }
    });
  });
});

// --- message ---------------------------------------------------------------------

describe("message", () => {
  describe("HTTP long-polling", () => {
    it("sends and receives a payload containing one plain text packet", async () => {
      const sid = await handshake();
      const postRes = await post(pollUrl(sid), "4hello");
      assert.equal(postRes.status, 200);
      assert.equal(postRes.body, "ok");
      const getRes = await get(pollUrl(sid));
      assert.equal(getRes.status, 200);
      assertPayload(getRes.body, "4hello");
    });

    it("answers POST with 200 ok as text/html and GET as text/plain UTF-8", async () => {
      const sid = await handshake();
      const postRes = await post(pollUrl(sid), "4héllo wörld €");
      assert.equal(postRes.status, 200);
      assert.equal(postRes.body, "ok");
      assert.equal(postRes.headers["content-type"], "text/html");
      assert.equal(postRes.headers["content-length"], "2");
      assert.equal(postRes.headers["access-control-allow-origin"], "*");
      const getRes = await get(pollUrl(sid));
      assert.equal(getRes.status, 200);
      assert.equal(getRes.headers["content-type"], "text/plain; charset=UTF-8");
      assert.equal(getRes.headers["cache-control"], "no-store");
      assert.equal(getRes.headers["content-length"], String(getRes.buffer.length), "Content-Length counts bytes");
      assert.equal(getRes.headers["access-control-allow-origin"], "*");
      assertPayload(getRes.body, "4héllo wörld €");
    });

    it("sends and receives a payload containing several plain text packets", async () => {
      const sid = await handshake();
      const payload = ["4test1", "4test2", "4test3"].join(RS);
      assert.equal((await post(pollUrl(sid), payload)).body, "ok");
      assertPayload((await get(pollUrl(sid))).body, payload);
    });

    it("sends and receives a payload containing plain text and binary packets", async () => {
      const sid = await handshake();
      const payload = `4hello${RS}bAQIDBA==`;
      assert.equal((await post(pollUrl(sid), payload)).body, "ok");
      assertPayload((await get(pollUrl(sid))).body, payload);
    });

    it("echoes a binary packet as base64 (bAQIDBA==)", async () => {
      const sid = await handshake();
      assert.equal((await post(pollUrl(sid), "bAQIDBA==")).body, "ok");
      assertPayload((await get(pollUrl(sid))).body, "bAQIDBA==");
    });

    it("flushes everything queued in one payload, in order", async () => {
      const sid = await handshake();
      assert.equal((await post(pollUrl(sid), "4one")).body, "ok");
      assert.equal((await post(pollUrl(sid), `4two${RS}4three`)).body, "ok");
      assert.equal((await post(pollUrl(sid), "bAQIDBA==")).body, "ok");
      assertPayload((await get(pollUrl(sid))).body, ["4one", "4two", "4three", "bAQIDBA=="].join(RS));
    });

    it("closes the session upon invalid packet format", async () => {
      const sid = await handshake();
      await post(pollUrl(sid), "abc").catch(() => {});
      assertUnknownSid(await get(pollUrl(sid)));
    });

    it("closes the session upon an empty POST body", async () => {
      const sid = await handshake();
      await post(pollUrl(sid), "").catch(() => {});
      assertUnknownSid(await get(pollUrl(sid)));
    });

    it("closes the session upon a trailing record separator", async () => {
      const sid = await handshake();
      await post(pollUrl(sid), `4hello${RS}`).catch(() => {});
      assertUnknownSid(await get(pollUrl(sid)));
    });

    it("closes the session upon duplicate poll requests", async () => {
      const sid = await handshake();
      const first = get(pollUrl(sid));
      await sleep(50); // let the first GET become the pending one
      const second = await get(pollUrl(sid));
      assert.ok([400, 500].includes(second.status), `second GET status ${second.status}`);
      const firstRes = await first;
      assert.equal(firstRes.status, 200);
      assert.equal(firstRes.body, "1");
      assertUnknownSid(await get(pollUrl(sid)));
    });

    it("closes the session upon cancelled polling request", async () => {
      const sid = await handshake();
      const { req, response } = startRequest(pollUrl(sid));
      response.catch(() => {});
      await new Promise((resolve) => req.once("finish", resolve)); // request fully sent
      await sleep(50);
      req.destroy();
      await sleep(100);
      assertUnknownSid(await get(pollUrl(sid)));
    });

    it("closes the session upon overlapping POST requests", async () => {
      const sid = await handshake();
      // a POST whose body is still being sent
      const u = new URL(pollUrl(sid));
      const slow = http.request({
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: "POST",
        agent: false,
        headers: { "Content-Type": "text/plain;charset=UTF-8", "Content-Length": "10" },
      });
      const slowDone = new Promise((resolve) => {
        slow.on("response", (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode));
        });
        slow.on("error", () => resolve("error"));
      });
      slow.write("4hel");
      await sleep(100);
      const second = await post(pollUrl(sid), "4x");
      assert.equal(second.status, 400);
      assert.equal(second.body, "");
      slow.destroy();
      await slowDone;
      assertUnknownSid(await get(pollUrl(sid)));
    });

    it("rejects an application/octet-stream POST with 400 and closes the session", async () => {
      const sid = await handshake();
      const res = await post(pollUrl(sid), Buffer.from([4, 1, 2, 3]), {
        headers: { "Content-Type": "application/octet-stream" },
      });
      assert.equal(res.status, 400);
      assert.equal(res.body, "");
      assertUnknownSid(await get(pollUrl(sid)));
    });

    it("answers another method with a valid sid with 500 and keeps the session", async () => {
      const sid = await handshake();
      for (const method of ["PUT", "DELETE", "PATCH"]) {
        const res = await request(pollUrl(sid), { method, body: "4x" });
        assert.equal(res.status, 500, method);
        assert.equal(res.body, "", method);
      }
      assert.equal((await post(pollUrl(sid), "4alive")).body, "ok");
      assertPayload((await get(pollUrl(sid))).body, "4alive");
    });

    it("accepts a POST of exactly maxPayload bytes", async () => {
      const sid = await handshake();
      // 1 + 333333 * 3 bytes = 1000000 bytes (333334 characters)
      const body = "4" + "€".repeat(333_333);
      assert.equal(Buffer.byteLength(body), MAX_PAYLOAD);
      const res = await post(pollUrl(sid), body);
      assert.equal(res.status, 200);
      assert.equal(res.body, "ok");
      const echo = await get(pollUrl(sid));
      assert.equal(echo.status, 200);
      assertPayload(echo.body, body);
    });

    it("rejects a POST over maxPayload bytes with 413 and an empty body", async () => {
      const sid = await handshake();
      const body = "4" + "€".repeat(333_333) + "a"; // 1000001 bytes
      assert.equal(Buffer.byteLength(body), MAX_PAYLOAD + 1);
      // own connection: the reference server drops the connection after a 413
      const res = await post(pollUrl(sid), body, { agent: false });
      assert.equal(res.status, 413);
      assert.equal(res.body, "");
    });

    it("closes the session after a POST over maxPayload bytes", async () => {
      // engine.io >= 6.6.13 ends the session on "payload too large" (6.6.12 kept it)
      const sid = await handshake();
      const res = await post(pollUrl(sid), "4" + "a".repeat(MAX_PAYLOAD), { agent: false });
      assert.equal(res.status, 413);
      assertUnknownSid(await get(pollUrl(sid)));
    });
  });

  describe("WebSocket", () => {
    it("sends and receives a plain text packet", async () => {
      const ws = await wsSession();
      ws.send("4hello");
      const msg = await ws.waitFor({ skipPings: true });
      assert.equal(msg.binary, false);
      assert.equal(msg.data, "4hello");
      ws.send("4пойду €");
      assert.equal(await ws.waitForText({ skipPings: true }), "4пойду €");
      ws.close();
    });

    it("sends and receives a binary packet", async () => {
      const ws = await wsSession();
      ws.send(Uint8Array.from([1, 2, 3, 4]));
      const msg = await ws.waitFor({ skipPings: true });
      assert.equal(msg.binary, true, "binary frame");
      assert.deepEqual([...msg.data], [1, 2, 3, 4]);
      ws.close();
    });

    it("answers a b<base64> text frame with a binary frame", async () => {
      const ws = await wsSession();
      ws.send("bAQIDBA==");
      const msg = await ws.waitFor({ skipPings: true });
      assert.equal(msg.binary, true, "binary frame");
      assert.deepEqual([...msg.data], [1, 2, 3, 4]);
      ws.close();
    });

    it("keeps the order of text and binary messages", async () => {
      const ws = await wsSession();
      ws.send("4a");
      ws.send(Buffer.from([9]));
      ws.send("4b");
      const got = [];
      for (let i = 0; i < 3; i++) {
        const m = await ws.waitFor({ skipPings: true });
        got.push(m.binary ? `<bin ${m.data.toString("hex")}>` : m.data);
      }
      assert.deepEqual(got, ["4a", "<bin 09>", "4b"]);
      ws.close();
    });

    it("closes the session upon invalid packet format", async () => {
      const ws = await wsSession();
      ws.send("abc");
      await ws.waitForClose(5000);
    });

    it("accepts a message of exactly maxPayload bytes", async () => {
      const ws = await wsSession();
      const text = "4" + "a".repeat(MAX_PAYLOAD - 1);
      ws.send(text);
      const echo = await ws.waitForText({ skipPings: true, timeout: 10_000 });
      assert.equal(echo.length, MAX_PAYLOAD);
      assert.equal(echo, text);
      ws.close();
    });

    it("closes with code 1009 upon a message over maxPayload", async () => {
      const ws = await wsSession();
      ws.send("4" + "a".repeat(MAX_PAYLOAD));
      const { code, reason } = await ws.waitForClose(10_000);
      assert.equal(code, 1009);
      assert.equal(reason, "");
    });
  });
});

// --- heartbeat -------------------------------------------------------------------

describe("heartbeat", () => {
  describe("HTTP long-polling", () => {
    it("sends ping/pong packets", async () => {
      const sid = await handshake();
      let since = Date.now();
      for (let i = 0; i < 3; i++) {
        const res = await get(pollUrl(sid));
        const elapsed = Date.now() - since;
        assert.equal(res.status, 200);
        assert.equal(res.body, "2", "nothing but the ping");
        assert.ok(elapsed >= PING_INTERVAL - 100, `ping ${i} after ${elapsed} ms, expected ~${PING_INTERVAL}`);
        assert.ok(elapsed < PING_INTERVAL + 2000, `ping ${i} after ${elapsed} ms`);
        const pong = await post(pollUrl(sid), "3");
        assert.equal(pong.status, 200);
        assert.equal(pong.body, "ok");
        since = Date.now();
      }
    });

    it("closes the session upon ping timeout", async () => {
      const sid = await handshake();
      await sleep(PING_INTERVAL + PING_TIMEOUT + 200);
      assertUnknownSid(await get(pollUrl(sid)));
    });

    it("closes the session when the client sends a ping", async () => {
      const sid = await handshake();
      await post(pollUrl(sid), "2").catch(() => {});
      assertUnknownSid(await get(pollUrl(sid)));
    });
  });

  describe("WebSocket", () => {
    it("sends ping/pong packets", async () => {
      const ws = await wsSession();
      for (let i = 0; i < 3; i++) {
        const since = Date.now();
        const msg = await ws.waitFor({ timeout: PING_INTERVAL + 2000 });
        const elapsed = Date.now() - since;
        assert.equal(msg.binary, false);
        assert.equal(msg.data, "2");
        assert.ok(elapsed >= PING_INTERVAL - 100, `ping ${i} after ${elapsed} ms, expected ~${PING_INTERVAL}`);
        ws.send("3");
      }
      ws.close();
    });

    it("closes the session upon ping timeout", async () => {
      const ws = await wsSession();
      assert.equal(await ws.waitForText({ timeout: PING_INTERVAL + 2000 }), "2");
      const since = Date.now();
      await ws.waitForClose(PING_TIMEOUT + 3000);
      const elapsed = Date.now() - since;
      assert.ok(elapsed >= PING_TIMEOUT - 100, `closed ${elapsed} ms after the ping, expected ~${PING_TIMEOUT}`);
    });

    it("closes the session when the client sends a ping", async () => {
      const ws = await wsSession();
      ws.send("2");
      await ws.waitForClose(PING_INTERVAL + PING_TIMEOUT + 3000);
    });
  });
});

// --- close -----------------------------------------------------------------------

describe("close", () => {
  describe("HTTP long-polling", () => {
    it("forcefully closes the session", async () => {
      const sid = await handshake();
      const pending = get(pollUrl(sid));
      await sleep(50); // the GET is pending before the close packet arrives
      const closeRes = await post(pollUrl(sid), "1");
      assert.equal(closeRes.status, 200);
      const pollRes = await pending;
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, "6");
      assertUnknownSid(await get(pollUrl(sid)));
    });

    it("closes the session upon a close packet with no pending GET", async () => {
      const sid = await handshake();
      const closeRes = await post(pollUrl(sid), "1");
      assert.equal(closeRes.status, 200);
      assertUnknownSid(await get(pollUrl(sid)));
    });
  });

  describe("WebSocket", () => {
    it("forcefully closes the session", async () => {
      const ws = await wsSession();
      ws.send("1");
      // the reference server lets the ping timeout do it (~500 ms)
      await ws.waitForClose(PING_INTERVAL + PING_TIMEOUT + 3000);
    });
  });
});

// --- upgrade ---------------------------------------------------------------------

describe("upgrade", () => {
  it("successfully upgrades from HTTP long-polling to WebSocket", async () => {
    const sid = await handshake();
    const ws = await openWs(wsUrl(sid));
    ws.send("2probe");
    // no OPEN packet on the upgrade WebSocket: the first frame is the probe reply
    assert.equal(await ws.waitForText(), "3probe");
    // a GET arriving while upgrading is released with a noop, promptly
    const since = Date.now();
    const pollRes = await get(pollUrl(sid), { timeout: 5000 });
    const elapsed = Date.now() - since;
    assert.equal(pollRes.status, 200);
    assert.equal(pollRes.body, "6");
    assert.ok(elapsed < 1500, `noop after ${elapsed} ms (the reference answers within ~100-200 ms)`);
    ws.send("5");
    ws.send("4hello");
    assert.equal(await ws.waitForText({ skipPings: true }), "4hello");
    ws.close();
  });

  it("releases a GET that is pending when the probe arrives with a noop", async () => {
    const sid = await handshake();
    const pending = get(pollUrl(sid), { timeout: 5000 });
    await sleep(50);
    const ws = await openWs(wsUrl(sid));
    ws.send("2probe");
    assert.equal(await ws.waitForText(), "3probe");
    const pollRes = await pending;
    assert.equal(pollRes.status, 200);
    assert.equal(pollRes.body, "6");
    ws.send("5");
    ws.send("4after");
    assert.equal(await ws.waitForText({ skipPings: true }), "4after");
    ws.close();
  });

  it("delivers packets queued during the upgrade over the WebSocket", async () => {
    const sid = await handshake();
    const ws = await openWs(wsUrl(sid));
    ws.send("2probe");
    assert.equal(await ws.waitForText(), "3probe");
    // a POST while upgrading is still accepted; its echo waits for the new transport
    const postRes = await post(pollUrl(sid), `4during1${RS}4during2`);
    assert.equal(postRes.status, 200);
    assert.equal(postRes.body, "ok");
    ws.send("5");
    assert.equal(await ws.waitForText({ skipPings: true }), "4during1");
    assert.equal(await ws.waitForText({ skipPings: true }), "4during2");
    ws.close();
  });

  it("ignores HTTP requests with same sid after upgrade", async () => {
    const sid = await handshake();
    const ws = await openWs(wsUrl(sid));
    ws.send("2probe");
    assert.equal(await ws.waitForText(), "3probe");
    ws.send("5");
    // a GET racing with the upgrade packet: never a noop once upgraded
    const racing = await get(pollUrl(sid), { timeout: 5000 });
    assert.ok(
      racing.status === 400 || (racing.status === 200 && racing.body === "1"),
      `GET racing with "5": ${racing.status} ${JSON.stringify(racing.body)}`,
    );
    if (racing.status === 400) assertBadRequest(racing);
    // once the upgrade is surely complete
    ws.send("4sync");
    assert.equal(await ws.waitForText({ skipPings: true }), "4sync");
    assertBadRequest(await get(pollUrl(sid)));
    assertBadRequest(await post(pollUrl(sid), "4polling"));
    ws.send("4hello");
    assert.equal(await ws.waitForText({ skipPings: true }), "4hello");
    ws.close();
  });

  it("ignores WebSocket connection with same sid after upgrade", async () => {
    const { sid, ws } = await upgradedSession();
    const second = new WsProbe(wsUrl(sid));
    await second.waitForClose(5000);
    ws.send("4hello");
    assert.equal(await ws.waitForText({ skipPings: true }), "4hello");
    ws.close();
  });

  it("keeps the session on polling when the probe WebSocket goes away", async () => {
    const sid = await handshake();
    const ws = await openWs(wsUrl(sid));
    ws.send("2probe");
    assert.equal(await ws.waitForText(), "3probe");
    ws.terminate();
    await ws.waitForClose();
    await sleep(50);
    assert.equal((await post(pollUrl(sid), "4still-polling")).body, "ok");
    const res = await get(pollUrl(sid));
    assert.equal(res.status, 200);
    // a noop may come first while the server notices the probe is gone
    const body = res.body === "6" ? (await get(pollUrl(sid))).body : res.body;
    assertPayload(body.split(RS).filter((r) => r !== "6").join(RS), "4still-polling");
  });
});

// --- HTTP surface ------------------------------------------------------------------

describe("HTTP surface", () => {
  it("answers unknown paths with 404 and an empty body", async () => {
    for (const path of ["/", "/foo", "/engine.io", "/engineio/?EIO=4&transport=polling"]) {
      const res = await get(`${fx.url}${path}`);
      assert.equal(res.status, 404, path);
      assert.equal(res.body, "", path);
    }
    const res = await post(`${fx.url}/foo`, "x");
    assert.equal(res.status, 404);
    assert.equal(res.body, "");
  });

  it("sends Access-Control-Allow-Origin * on engine responses, errors included", async () => {
    const sid = await handshake();
    const responses = [
      await post(pollUrl(sid), "4x"),
      await get(pollUrl(sid)),
      await get(eio("EIO=4")),
      await get(eio("EIO=4&transport=polling&sid=unknown")),
    ];
    for (const res of responses) assert.equal(res.headers["access-control-allow-origin"], "*", `status ${res.status}`);
  });

  it("answers a CORS preflight with 204", async () => {
    const res = await request(eio("EIO=4&transport=polling"), {
      method: "OPTIONS",
      headers: { Origin: "http://example.test", "Access-Control-Request-Method": "POST" },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers["access-control-allow-origin"], "*");
    assert.match(res.headers["access-control-allow-methods"] ?? "", /POST/);
    assert.equal(res.body, "");
  });

  it("keeps the /engine.io/ and /socket.io/ sessions apart", async () => {
    const eioSid = await handshake();
    assertUnknownSid(await get(`${fx.url}/socket.io/?EIO=4&transport=polling&sid=${eioSid}`));
    const sioRes = await get(`${fx.url}/socket.io/?EIO=4&transport=polling`);
    assert.equal(sioRes.status, 200);
    const sioSid = parseOpen(sioRes.body).sid;
    assertUnknownSid(await get(pollUrl(sioSid)));
    // both still alive
    assert.equal((await post(pollUrl(eioSid), "4eio")).body, "ok");
    assertPayload((await get(pollUrl(eioSid))).body, "4eio");
  });

  it("serves many concurrent sessions independently", async () => {
    const sids = await Promise.all(Array.from({ length: 20 }, () => handshake()));
    // break half of them
    await Promise.all(sids.filter((_, i) => i % 2).map((sid) => post(pollUrl(sid), "zzz").catch(() => {})));
    await Promise.all(
      sids.map(async (sid, i) => {
        if (i % 2) {
          assertUnknownSid(await get(pollUrl(sid)));
        } else {
          assert.equal((await post(pollUrl(sid), `4s${i}`)).body, "ok");
          assertPayload((await get(pollUrl(sid))).body, `4s${i}`);
        }
      }),
    );
  });
});
