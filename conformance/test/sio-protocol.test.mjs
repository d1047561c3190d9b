// Socket.IO v5 wire behaviour of the `protocol` profile, endpoint /socket.io/
// (pingInterval 300, pingTimeout 200, maxPayload 1000000, connectTimeout 1000,
// namespaces `/` and `/custom`, no connection state recovery).
//
// Black-box tests over raw HTTP and WebSocket. They cover what the official
// Socket.IO v5 protocol suite checks (its 16 Engine.IO-level and 16
// Socket.IO-level tests, re-written here), plus the reference server's exact
// behaviour around them: CONNECT replies, namespaces, binary attachments over
// both transports, acknowledgements, the decoder's strictness (every invalid
// packet closes the whole connection), connectTimeout and byte-exact JSON.
//
// Most tests run over a WebSocket whose probe answers pings by itself
// (enableAutoPong), so that the 200 ms pingTimeout cannot end a session while
// the machine is busy. "Nothing was sent" is checked by ordering: replies of
// one socket keep the order of the packets that caused them, so the next frame
// after a probe packet must be the reply to a later `message`.

import assert from "node:assert/strict";
import {
  closeClients,
  conformance,
  get,
  openWs,
  post,
  request,
  sleep,
  startFixture,
  WsProbe,
} from "./support/fixture.mjs";
import {
  b64Record,
  bytesOfRecord,
  parseConnectReply,
  parseOpenPacket,
  ph,
  PollingSession,
  RS,
  wsConnectNsp,
  wsExpectQuiet,
  wsNext,
  wsTexts,
} from "./support/sio.mjs";

const { describe, it, before, after } = conformance(import.meta.url);

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const MAX_PAYLOAD = 1_000_000;
const CONNECT_TIMEOUT = 1000;
const OPEN = { pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, maxPayload: MAX_PAYLOAD };
const RESERVED_EVENTS = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];
const INVALID_NAMESPACE = '{"message":"Invalid namespace"}';

let fx;
let endpoint;

before(async () => {
  fx = await startFixture("protocol");
  endpoint = `${fx.url}/socket.io/`;
});

after(async () => {
  closeClients();
  await fx?.stop();
});

// --- helpers -------------------------------------------------------------------

const sio = (query) => `${endpoint}?${query}`;
const pollUrl = (sid) => sio(`EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`);
const wsUrl = (sid) => `${fx.wsUrl}/socket.io/?EIO=4&transport=websocket${sid ? `&sid=${encodeURIComponent(sid)}` : ""}`;

function assertError(res, status, code, message) {
  assert.equal(res.status, status, `status (body ${JSON.stringify(res.body)})`);
  assert.equal(res.headers["content-type"], "application/json");
  assert.equal(res.body, JSON.stringify({ code, message }));
}

const assertUnknownSid = (res) => assertError(res, 400, 1, "Session ID unknown");

/** Polling handshake; returns the Engine.IO sid. */
async function handshake() {
  const res = await get(sio("EIO=4&transport=polling"));
  assert.equal(res.status, 200, `handshake status (body ${res.body})`);
  return parseOpenPacket(res.body, { ...OPEN, upgrades: ["websocket"] }).sid;
}

/** WebSocket-only Engine.IO session, pings left to the test. Returns {ws, open}. */
async function rawWs() {
  const ws = await openWs(wsUrl());
  const open = parseOpenPacket(await ws.waitForText(), { ...OPEN, upgrades: [] });
  return { ws, open };
}

/** WebSocket-only Engine.IO session that answers pings by itself. */
async function wsSession() {
  const { ws, open } = await rawWs();
  ws.enableAutoPong();
  ws.engineSid = open.sid;
  return ws;
}

/** The exact `auth` event a namespace emits on connection. */
const authEvent = (nsp, auth = {}) => `42${nsp === "/" ? "" : `${nsp},`}["auth",${JSON.stringify(auth)}]`;

/** Joins `nsp` and checks the CONNECT reply and the `auth` event; returns the socket id. */
async function join(ws, nsp = "/", { auth, comma = true } = {}) {
  const { sid } = await wsConnectNsp(ws, nsp, { auth, comma });
  assert.equal(await ws.waitForText({ skipPings: true }), authEvent(nsp, auth));
  return sid;
}

/** A WebSocket session joined to `/`; returns {ws, sid}. */
async function connected(auth) {
  const ws = await wsSession();
  const sid = await join(ws, "/", { auth });
  return { ws, sid };
}

/**
 * Proves that nothing was sent in reply to the frames before it: the next
 * frame must be the reply to this `message` (replies keep the packets' order).
 */
async function sync(ws, tag = "sync") {
  ws.send(`42["message","${tag}"]`);
  assert.equal(await wsNext(ws), `42["message-back","${tag}"]`);
}

/** Asserts that the server closes the WebSocket (and sent nothing before). */
async function assertWsClosed(ws, { timeout = 5000 } = {}) {
  await ws.waitForClose(timeout);
  const left = ws.pending().filter((m) => m.binary || m.data !== "2");
  assert.deepEqual(
    left.map((m) => (m.binary ? `<bin ${m.data.toString("hex")}>` : m.data)),
    [],
    "nothing sent before the close",
  );
}

/** Joins `/` on a fresh WebSocket session, sends `frames`, expects the connection closed. */
async function assertFramesClose(...frames) {
  const { ws } = await connected();
  for (const f of frames) ws.send(f);
  await assertWsClosed(ws);
}

/** A polling session joined to `/` (reply and auth event checked). */
async function pollingConnected(auth) {
  const s = await PollingSession.open(endpoint, { expect: { ...OPEN, upgrades: ["websocket"] } });
  const { sid } = await s.connectNsp("/", { auth });
  assert.deepEqual(await s.take(1), [authEvent("/", auth)]);
  s.socketSid = sid;
  return s;
}

// --- Engine.IO protocol on /socket.io/ ---------------------------------------------

describe("Engine.IO protocol", () => {
  describe("handshake", () => {
    describe("HTTP long-polling", () => {
      it("should successfully open a session", async () => {
        const res = await get(sio("EIO=4&transport=polling"));
        assert.equal(res.status, 200);
        assert.equal(res.headers["content-type"], "text/plain; charset=UTF-8");
        parseOpenPacket(res.body, { ...OPEN, upgrades: ["websocket"] });
      });

      it("should fail with an invalid 'EIO' query parameter", async () => {
        assertError(await get(sio("transport=polling")), 400, 5, "Unsupported protocol version");
        assertError(await get(sio("EIO=abc&transport=polling")), 400, 5, "Unsupported protocol version");
        assertError(await get(sio("EIO=3&transport=polling")), 400, 5, "Unsupported protocol version");
      });

      it("should fail with an invalid 'transport' query parameter", async () => {
        assertError(await get(sio("EIO=4")), 400, 0, "Transport unknown");
        assertError(await get(sio("EIO=4&transport=abc")), 400, 0, "Transport unknown");
      });

      it("should fail with an invalid request method", async () => {
        assertError(await request(sio("EIO=4&transport=polling"), { method: "POST", body: "40" }), 400, 2, "Bad handshake method");
        assertError(await request(sio("EIO=4&transport=polling"), { method: "PUT", body: "" }), 400, 2, "Bad handshake method");
      });

      it("rejects an unknown sid with 400 code 1", async () => {
        assertUnknownSid(await get(pollUrl("unknown")));
        assertUnknownSid(await post(pollUrl("unknown"), "40"));
      });
    });

    describe("WebSocket", () => {
      it("should successfully open a session", async () => {
        const { ws } = await rawWs();
        ws.close();
      });

      it("should fail with an invalid 'EIO' query parameter", async () => {
        for (const query of ["transport=websocket", "EIO=abc&transport=websocket"]) {
          const probe = new WsProbe(`${fx.wsUrl}/socket.io/?${query}`);
          await probe.waitForClose(5000);
          for (const m of probe.pending()) assert.ok(m.binary || !m.data.startsWith("0{"), `${query}: no OPEN packet`);
        }
      });

      it("should fail with an invalid 'transport' query parameter", async () => {
        for (const query of ["EIO=4", "EIO=4&transport=abc"]) {
          const probe = new WsProbe(`${fx.wsUrl}/socket.io/?${query}`);
          assert.equal(await probe.waitForOpen(), false, `${query}: upgrade refused`);
          await probe.waitForClose(5000);
        }
      });
    });
  });

  describe("heartbeat", () => {
    describe("HTTP long-polling", () => {
      it("should send ping/pong packets", async () => {
        // no CONNECT: nothing but pings may come (two rounds end well before connectTimeout)
        const sid = await handshake();
        for (let i = 0; i < 2; i++) {
          const res = await get(pollUrl(sid));
          assert.equal(res.status, 200);
          assert.equal(res.body, "2", "nothing but the ping");
          const pong = await post(pollUrl(sid), "3");
          assert.equal(pong.status, 200);
          assert.equal(pong.body, "ok");
        }
      });

      it("keeps pinging a socket that joined a namespace, and sends nothing else", async () => {
        const s = await pollingConnected();
        for (let i = 0; i < 3; i++) {
          const res = await get(s.url);
          assert.equal(res.status, 200);
          assert.equal(res.body, "2", `round ${i}: nothing but the ping`);
          assert.equal((await post(s.url, "3")).body, "ok");
        }
      });

      it("should close the session upon ping timeout", async () => {
        const sid = await handshake();
        await sleep(PING_INTERVAL + PING_TIMEOUT + 200);
        assertUnknownSid(await get(pollUrl(sid)));
      });
    });

    describe("WebSocket", () => {
      it("should send ping/pong packets", async () => {
        const { ws } = await rawWs();
        for (let i = 0; i < 2; i++) {
          const msg = await ws.waitFor({ timeout: PING_INTERVAL + 3000 });
          assert.equal(msg.binary, false);
          assert.equal(msg.data, "2");
          ws.send("3");
        }
        ws.close();
      });

      it("keeps pinging a socket that joined a namespace, and sends nothing else", async () => {
        const { ws } = await rawWs();
        ws.send("40");
        const [reply, auth] = await wsTexts(ws, 2);
        parseConnectReply(reply);
        assert.equal(auth, authEvent("/"));
        for (let i = 0; i < 3; i++) {
          assert.equal(await ws.waitForText({ timeout: PING_INTERVAL + 3000 }), "2", `round ${i}`);
          ws.send("3");
        }
        ws.close();
      });

      it("should close the session upon ping timeout", async () => {
        const { ws } = await rawWs();
        assert.equal(await ws.waitForText({ timeout: PING_INTERVAL + 3000 }), "2");
        const since = Date.now();
        await ws.waitForClose(PING_TIMEOUT + 3000);
        const elapsed = Date.now() - since;
        assert.ok(elapsed >= PING_TIMEOUT - 100, `closed ${elapsed} ms after the ping, expected ~${PING_TIMEOUT}`);
      });
    });
  });

  describe("close", () => {
    describe("HTTP long-polling", () => {
      it("should forcefully close the session", async () => {
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
    });

    describe("WebSocket", () => {
      it("should forcefully close the session", async () => {
        const { ws } = await rawWs();
        ws.send("1");
        // the reference server lets the ping timeout do it (~500 ms)
        await ws.waitForClose(PING_INTERVAL + PING_TIMEOUT + 3000);
      });
    });
  });

  describe("upgrade", () => {
    it("should successfully upgrade from HTTP long-polling to WebSocket", async () => {
      const sid = await handshake();
      const ws = await openWs(wsUrl(sid));
      ws.send("2probe");
      assert.equal(await ws.waitForText(), "3probe");
      // a GET arriving while upgrading is released with a noop
      const pollRes = await get(pollUrl(sid), { timeout: 5000 });
      assert.equal(pollRes.status, 200);
      assert.equal(pollRes.body, "6");
      ws.send("5");
      ws.enableAutoPong();
      // the session now runs over the WebSocket
      await join(ws, "/");
      ws.close();
    });

    it("should ignore HTTP requests with same sid after upgrade", async () => {
      const sid = await handshake();
      const ws = await openWs(wsUrl(sid));
      ws.send("2probe");
      assert.equal(await ws.waitForText(), "3probe");
      ws.send("5");
      ws.enableAutoPong();
      await join(ws, "/"); // the upgrade is surely complete
      assertError(await get(pollUrl(sid)), 400, 3, "Bad request");
      assertError(await post(pollUrl(sid), "42[\"message\"]"), 400, 3, "Bad request");
      await sync(ws);
      ws.close();
    });

    it("should ignore WebSocket connection with same sid after upgrade", async () => {
      const sid = await handshake();
      const ws = await openWs(wsUrl(sid));
      ws.send("2probe");
      assert.equal(await ws.waitForText(), "3probe");
      ws.send("5");
      ws.enableAutoPong();
      await join(ws, "/");
      const second = new WsProbe(wsUrl(sid));
      await second.waitForClose(5000);
      await sync(ws);
      ws.close();
    });

    it("keeps a socket joined over polling after the upgrade", async () => {
      const s = await pollingConnected({ token: "up" });
      await s.send('42["message","before"]');
      assert.deepEqual(await s.take(1), ['42["message-back","before"]']);
      const ws = await openWs(wsUrl(s.sid));
      ws.send("2probe");
      assert.equal(await ws.waitForText(), "3probe");
      // a packet emitted while upgrading waits for the new transport
      await s.send('42["message","during"]');
      ws.send("5");
      ws.enableAutoPong();
      assert.equal(await wsNext(ws), '42["message-back","during"]');
      ws.send('42["message","after"]');
      assert.equal(await wsNext(ws), '42["message-back","after"]');
      ws.send('4212["message-with-ack","over ws"]');
      assert.equal(await wsNext(ws), '4312["over ws"]');
      // same socket: a second CONNECT for / is a duplicate and closes the connection
      ws.send("40");
      await assertWsClosed(ws);
    });
  });
});

// --- Socket.IO protocol --------------------------------------------------------------

describe("Socket.IO protocol", () => {
  describe("connect", () => {
    it("should allow connection to the main namespace", async () => {
      const ws = await wsSession();
      ws.send("40");
      const [reply, auth] = await wsTexts(ws, 2);
      const { sid } = parseConnectReply(reply, "/", ["sid"]);
      assert.notEqual(sid, ws.engineSid, "the socket id is not the Engine.IO sid");
      assert.equal(auth, '42["auth",{}]');
      ws.close();
    });

    it("should allow connection to the main namespace with a payload", async () => {
      const ws = await wsSession();
      ws.send('40{"token":"123"}');
      const [reply, auth] = await wsTexts(ws, 2);
      parseConnectReply(reply, "/", ["sid"]);
      assert.equal(auth, '42["auth",{"token":"123"}]');
      ws.close();
    });

    it("should allow connection to a custom namespace", async () => {
      const ws = await wsSession();
      ws.send("40/custom,");
      const [reply, auth] = await wsTexts(ws, 2);
      const { sid } = parseConnectReply(reply, "/custom", ["sid"]);
      assert.notEqual(sid, ws.engineSid);
      assert.equal(auth, '42/custom,["auth",{}]');
      ws.close();
    });

    it("should allow connection to a custom namespace with a payload", async () => {
      const ws = await wsSession();
      ws.send('40/custom,{"token":"abc"}');
      const [reply, auth] = await wsTexts(ws, 2);
      parseConnectReply(reply, "/custom", ["sid"]);
      assert.equal(auth, '42/custom,["auth",{"token":"abc"}]');
      ws.close();
    });

    it("should allow connection to a custom namespace without a trailing comma", async () => {
      const ws = await wsSession();
      ws.send("40/custom");
      const [reply, auth] = await wsTexts(ws, 2);
      // the reply is written with the comma
      parseConnectReply(reply, "/custom", ["sid"]);
      assert.equal(auth, '42/custom,["auth",{}]');
      ws.close();
    });

    it("should disallow connection to an unknown namespace", async () => {
      const ws = await wsSession();
      ws.send("40/random");
      assert.equal(await wsNext(ws), `44/random,${INVALID_NAMESPACE}`);
      ws.close();
    });

    it("rejects an unknown namespace with or without comma and payload, and keeps the connection", async () => {
      const ws = await wsSession();
      ws.send("40/random,");
      assert.equal(await wsNext(ws), `44/random,${INVALID_NAMESPACE}`);
      ws.send('40/other,{"token":"x"}');
      assert.equal(await wsNext(ws), `44/other,${INVALID_NAMESPACE}`);
      ws.send("40/custom/sub");
      assert.equal(await wsNext(ws), `44/custom/sub,${INVALID_NAMESPACE}`);
      // the Engine.IO connection is still usable
      await join(ws, "/");
      await join(ws, "/custom");
      await sync(ws);
      ws.close();
    });

    it("echoes the namespace as written, query string included", async () => {
      const ws = await wsSession();
      ws.send("40/custom?foo=bar,");
      assert.equal(await wsNext(ws), `44/custom?foo=bar,${INVALID_NAMESPACE}`);
      ws.send("40/CUSTOM,");
      assert.equal(await wsNext(ws), `44/CUSTOM,${INVALID_NAMESPACE}`);
      ws.close();
    });

    it("sends the CONNECT reply before the auth event, over polling too", async () => {
      const s = await PollingSession.open(endpoint);
      await s.send('40{"token":"p"}');
      const [reply, auth] = await s.take(2);
      parseConnectReply(reply, "/", ["sid"]);
      assert.equal(auth, '42["auth",{"token":"p"}]');
    });

    it("passes the auth object through unchanged", async () => {
      const auth = '{"token":"ü€😀","n":1,"f":1.5,"nested":{"a":[1,2,{"b":null}],"t":true},"z":false}';
      const ws = await wsSession();
      ws.send(`40${auth}`);
      const [reply, ev] = await wsTexts(ws, 2);
      parseConnectReply(reply);
      assert.equal(ev, `42["auth",${auth}]`);
      ws.send(`40/custom,${auth}`);
      const [reply2, ev2] = await wsTexts(ws, 2);
      parseConnectReply(reply2, "/custom");
      assert.equal(ev2, `42/custom,["auth",${auth}]`);
      ws.close();
    });

    it("gives every socket a fresh id, distinct from the Engine.IO sids", async () => {
      const ids = new Set();
      const engineSids = new Set();
      for (let i = 0; i < 3; i++) {
        const ws = await wsSession();
        engineSids.add(ws.engineSid);
        ids.add(await join(ws, "/"));
        ids.add(await join(ws, "/custom"));
        ws.close();
      }
      assert.equal(ids.size, 6, "six distinct socket ids");
      for (const id of ids) assert.ok(!engineSids.has(id), `socket id ${id} is an Engine.IO sid`);
    });

    it("should disallow connection with an invalid handshake", async () => {
      const ws = await wsSession();
      ws.send("4abc");
      await assertWsClosed(ws);
    });

    it("should close the connection if no handshake is received", async () => {
      const ws = await wsSession();
      await assertWsClosed(ws, { timeout: CONNECT_TIMEOUT + 4000 });
    });
  });

  describe("disconnect", () => {
    it("should disconnect from the main namespace", async () => {
      const { ws } = await rawWs();
      ws.send("40");
      const [reply, auth] = await wsTexts(ws, 2);
      parseConnectReply(reply);
      assert.equal(auth, authEvent("/"));
      ws.send("41");
      // no reply: the next frame is a ping, and the connection stays
      assert.equal(await ws.waitForText({ timeout: PING_INTERVAL + 3000 }), "2");
      ws.send("3");
      assert.equal(await ws.waitForText({ timeout: PING_INTERVAL + 3000 }), "2");
      ws.send("3");
      ws.close();
    });

    it("should connect then disconnect from a custom namespace", async () => {
      const { ws } = await connected();
      ws.send("40/custom");
      const [reply, auth] = await wsTexts(ws, 2);
      parseConnectReply(reply, "/custom");
      assert.equal(auth, authEvent("/custom"));
      ws.send("41/custom");
      ws.send('42["message","message to main namespace"]');
      assert.equal(await wsNext(ws), '42["message-back","message to main namespace"]');
      ws.close();
    });

    it("accepts a DISCONNECT for a custom namespace with a trailing comma", async () => {
      const { ws } = await connected();
      await join(ws, "/custom");
      ws.send("41/custom,");
      await sync(ws);
      // left: an EVENT for /custom now closes the connection
      ws.send('42/custom,["message"]');
      await assertWsClosed(ws);
    });

    it("lets a socket connect again after a DISCONNECT, with a new id", async () => {
      const { ws, sid } = await connected({ token: "1" });
      ws.send("41");
      // the reference server handles a DISCONNECT a tick later: a CONNECT in
      // the same read would still find the old socket (duplicate CONNECT)
      await sleep(100);
      const again = await join(ws, "/", { auth: { token: "2" } });
      assert.notEqual(again, sid, "a new socket id");
      await sync(ws);
      ws.close();
    });

    it("keeps a connection that left all its namespaces open past connectTimeout", async () => {
      const { ws } = await connected();
      ws.send("41");
      await wsExpectQuiet(ws, CONNECT_TIMEOUT + 500);
      assert.equal(ws.closeInfo, null, "still open");
      await join(ws, "/");
      await sync(ws);
      ws.close();
    });
  });

  describe("message", () => {
    it("should send a plain-text packet", async () => {
      const { ws } = await connected();
      ws.send('42["message",1,"2",{"3":[true]}]');
      assert.equal(await wsNext(ws), '42["message-back",1,"2",{"3":[true]}]');
      ws.close();
    });

    it("should send a packet with binary attachments", async () => {
      const { ws } = await connected();
      ws.send(`452-["message",${ph(0)},${ph(1)}]`);
      ws.send(Uint8Array.from([1, 2, 3]));
      ws.send(Uint8Array.from([4, 5, 6]));
      assert.deepEqual(await Promise.all([wsNext(ws), wsNext(ws), wsNext(ws)]), [
        `452-["message-back",${ph(0)},${ph(1)}]`,
        "<bin 01 02 03>",
        "<bin 04 05 06>",
      ]);
      ws.close();
    });

    it("should send a plain-text packet with an ack", async () => {
      const { ws } = await connected();
      ws.send('42456["message-with-ack",1,"2",{"3":[false]}]');
      assert.equal(await wsNext(ws), '43456[1,"2",{"3":[false]}]');
      ws.close();
    });

    it("should send a packet with binary attachments and an ack", async () => {
      const { ws } = await connected();
      ws.send(`452-789["message-with-ack",${ph(0)},${ph(1)}]`);
      ws.send(Uint8Array.from([1, 2, 3]));
      ws.send(Uint8Array.from([4, 5, 6]));
      assert.equal(await wsNext(ws), `462-789[${ph(0)},${ph(1)}]`);
      assert.equal(await wsNext(ws), "<bin 01 02 03>");
      assert.equal(await wsNext(ws), "<bin 04 05 06>");
      ws.close();
    });

    it("echoes a message without arguments, and acks one with an empty array", async () => {
      const { ws } = await connected();
      ws.send('42["message"]');
      assert.equal(await wsNext(ws), '42["message-back"]');
      ws.send('423["message-with-ack"]');
      assert.equal(await wsNext(ws), "433[]");
      ws.close();
    });

    it("answers in the order of the packets received", async () => {
      const { ws } = await connected();
      const expected = [];
      for (let i = 0; i < 20; i++) {
        if (i % 2) {
          ws.send(`42${i}["message-with-ack",${i}]`);
          expected.push(`43${i}[${i}]`);
        } else {
          ws.send(`42["message",${i}]`);
          expected.push(`42["message-back",${i}]`);
        }
      }
      const got = [];
      for (let i = 0; i < expected.length; i++) got.push(await wsNext(ws));
      assert.deepEqual(got, expected);
      ws.close();
    });

    it("never acknowledges `message`, even with an ack id", async () => {
      const { ws } = await connected();
      ws.send('421["message",1]');
      assert.equal(await wsNext(ws), '42["message-back",1]');
      await sync(ws); // no `431…` came before
      ws.close();
    });

    it("does nothing for `message-with-ack` without an ack id", async () => {
      const { ws } = await connected();
      ws.send('42["message-with-ack",1,"2"]');
      await sync(ws);
      ws.close();
    });

    it("does nothing for other events, acked or not, numeric names included", async () => {
      const { ws } = await connected();
      ws.send('42["other",1]');
      ws.send('425["other"]');
      ws.send('42["auth",{}]');
      ws.send("42[1,2]");
      ws.send("426[7]");
      await sync(ws);
      ws.close();
    });

    it("ignores an ACK for an unknown id", async () => {
      const { ws } = await connected();
      ws.send("437[]");
      ws.send('430["x"]');
      await sync(ws);
      ws.close();
    });

    it("treats placeholder-shaped objects in a plain EVENT as data", async () => {
      const { ws } = await connected();
      ws.send(`42["message",${ph(0)}]`);
      assert.equal(await wsNext(ws), `42["message-back",${ph(0)}]`);
      ws.close();
    });
  });

  describe("binary attachments", () => {
    it("echoes binary mixed with other arguments", async () => {
      const { ws } = await connected();
      ws.send(`451-["message",1,{"x":${ph(0)},"y":"z"},"s"]`);
      ws.send(Buffer.from("hello"));
      assert.equal(await wsNext(ws), `451-["message-back",1,{"x":${ph(0)},"y":"z"},"s"]`);
      assert.equal(await wsNext(ws), "<bin 68 65 6c 6c 6f>");
      ws.close();
    });

    it("handles nested placeholders", async () => {
      const { ws } = await connected();
      ws.send(`453-["message",{"a":[${ph(0)},{"b":${ph(1)}}]},[[${ph(2)}]]]`);
      ws.send(Uint8Array.from([1]));
      ws.send(Uint8Array.from([2, 2]));
      ws.send(Uint8Array.from([3, 3, 3]));
      assert.deepEqual(await Promise.all([wsNext(ws), wsNext(ws), wsNext(ws), wsNext(ws)]), [
        `453-["message-back",{"a":[${ph(0)},{"b":${ph(1)}}]},[[${ph(2)}]]]`,
        "<bin 01>",
        "<bin 02 02>",
        "<bin 03 03 03>",
      ]);
      ws.close();
    });

    it("numbers placeholders depth-first when sending", async () => {
      const { ws } = await connected();
      // received in the other order: num 1 comes first in the arguments
      ws.send(`452-["message",${ph(1)},{"k":${ph(0)}}]`);
      ws.send(Uint8Array.from([0xaa]));
      ws.send(Uint8Array.from([0xbb]));
      assert.deepEqual(await Promise.all([wsNext(ws), wsNext(ws), wsNext(ws)]), [
        `452-["message-back",${ph(0)},{"k":${ph(1)}}]`,
        "<bin bb>",
        "<bin aa>",
      ]);
      ws.close();
    });

    it("sends a BINARY_ACK with mixed arguments", async () => {
      const { ws } = await connected();
      ws.send(`451-5["message-with-ack","a",{"k":[${ph(0)}]},null]`);
      ws.send(Uint8Array.from([9, 8, 7]));
      assert.equal(await wsNext(ws), `461-5["a",{"k":[${ph(0)}]},null]`);
      assert.equal(await wsNext(ws), "<bin 09 08 07>");
      ws.close();
    });

    it("echoes an empty attachment", async () => {
      const { ws } = await connected();
      ws.send(`451-["message",${ph(0)}]`);
      ws.send(Buffer.alloc(0));
      assert.equal(await wsNext(ws), `451-["message-back",${ph(0)}]`);
      assert.equal(await wsNext(ws), "<bin >");
      ws.close();
    });

    it("takes a b<base64> text frame as an attachment", async () => {
      const { ws } = await connected();
      ws.send(`451-["message",${ph(0)}]`);
      ws.send("bAQID");
      assert.equal(await wsNext(ws), `451-["message-back",${ph(0)}]`);
      const bin = await ws.waitFor({ skipPings: true });
      assert.equal(bin.binary, true, "sent back as a binary frame");
      assert.deepEqual([...bin.data], [1, 2, 3]);
      ws.close();
    });

    it("echoes ten attachments in order", async () => {
      const { ws } = await connected();
      const phs = Array.from({ length: 10 }, (_, i) => ph(i)).join(",");
      ws.send(`4510-["message",${phs}]`);
      for (let i = 0; i < 10; i++) ws.send(Uint8Array.from([i]));
      assert.equal(await wsNext(ws), `4510-["message-back",${phs}]`);
      for (let i = 0; i < 10; i++) assert.equal(await wsNext(ws), `<bin 0${i}>`);
      ws.close();
    });

    it("echoes a large attachment", async () => {
      const { ws } = await connected();
      const big = Buffer.alloc(900_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      ws.send(`451-["message",${ph(0)}]`);
      ws.send(big);
      assert.equal(await wsNext(ws, { timeout: 10_000 }), `451-["message-back",${ph(0)}]`);
      const bin = await ws.waitFor({ skipPings: true, timeout: 10_000 });
      assert.equal(bin.binary, true);
      assert.ok(bin.data.equals(big), "same bytes");
      ws.close();
    });

    it("keeps binary packets of several namespaces apart", async () => {
      const { ws } = await connected();
      await join(ws, "/custom");
      ws.send(`451-/custom,["message",${ph(0)}]`); // no handler on /custom
      ws.send(Uint8Array.from([1]));
      ws.send(`451-["message",${ph(0)}]`);
      ws.send(Uint8Array.from([2]));
      assert.equal(await wsNext(ws), `451-["message-back",${ph(0)}]`);
      assert.equal(await wsNext(ws), "<bin 02>");
      await sync(ws);
      ws.close();
    });
  });

  describe("HTTP long-polling", () => {
    it("connects, echoes and acknowledges over polling", async () => {
      const s = await pollingConnected({ token: "123" });
      await s.send('42["message",1,"2",{"3":[true]}]', '427["message-with-ack","x"]');
      assert.deepEqual(await s.take(2), ['42["message-back",1,"2",{"3":[true]}]', '437["x"]']);
    });

    it("echoes binary over polling, the b records right after the header", async () => {
      const s = await pollingConnected();
      await s.send(`452-["message",${ph(0)},{"n":${ph(1)}}]`, b64Record([1, 2, 3]), b64Record([4, 5, 6]));
      const [header, a, b] = await s.take(3);
      assert.equal(header, `452-["message-back",${ph(0)},{"n":${ph(1)}}]`);
      assert.deepEqual(bytesOfRecord(a), [1, 2, 3]);
      assert.deepEqual(bytesOfRecord(b), [4, 5, 6]);
      assert.equal(a, "bAQID");
      assert.equal(b, "bBAUG");
      // not even a ping between them (the header may come alone on a pending GET)
      const stream = s.payloads.flatMap((p) => p.split(RS));
      const i = stream.indexOf(header);
      assert.deepEqual(stream.slice(i + 1, i + 3), [a, b], `nothing between the header and its attachments: ${JSON.stringify(stream)}`);
    });

    it("sends a BINARY_ACK over polling", async () => {
      const s = await pollingConnected();
      await s.send(`451-789["message-with-ack",${ph(0)},"t"]`, "bAQIDBA==");
      assert.deepEqual(await s.take(2), [`461-789[${ph(0)},"t"]`, "bAQIDBA=="]);
    });

    it("takes attachments from separate POSTs", async () => {
      const s = await pollingConnected();
      await s.send(`452-["message",${ph(0)},${ph(1)}]`);
      await s.send(b64Record([1]));
      await s.send(b64Record([2]));
      assert.deepEqual(await s.take(3), [`452-["message-back",${ph(0)},${ph(1)}]`, "bAQ==", "bAg=="]);
    });

    it("returns everything queued in one payload, in order", async () => {
      const s = await pollingConnected();
      await s.send('42["message",1]', `451-["message",${ph(0)}]`, "bAQ==", '425["message-with-ack",2]', '42["message",3]');
      await sleep(150); // no GET pending: the replies queue up
      const res = await get(s.url);
      assert.equal(res.status, 200);
      const records = res.body.split(RS);
      if (records.includes("2")) await s.send("3");
      assert.deepEqual(
        records.filter((r) => r !== "2"),
        ['42["message-back",1]', `451-["message-back",${ph(0)}]`, "bAQ==", "435[2]", '42["message-back",3]'],
      );
    });

    it("keeps UTF-8 intact and counts Content-Length in bytes", async () => {
      const s = await pollingConnected();
      const text = "てすと Я Б Г Ä ü ß — € 😀";
      await s.send(`42["message","${text}"]`);
      await sleep(100);
      const res = await get(s.url);
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-length"], String(res.buffer.length));
      const records = res.body.split(RS);
      if (records.includes("2")) await s.send("3");
      assert.deepEqual(records.filter((r) => r !== "2"), [`42["message-back","${text}"]`]);
    });

    it("joins several namespaces from one POST", async () => {
      const s = await PollingSession.open(endpoint);
      await s.send("40", '40/custom,{"a":1}', "40/random");
      const records = await s.take(5);
      const main = records.filter((r) => r.startsWith("40{") || r.startsWith('42["'));
      const custom = records.filter((r) => r.startsWith("40/custom,") || r.startsWith("42/custom,"));
      assert.equal(main.length, 2, JSON.stringify(records));
      parseConnectReply(main[0], "/");
      assert.equal(main[1], authEvent("/"));
      assert.equal(custom.length, 2, JSON.stringify(records));
      parseConnectReply(custom[0], "/custom");
      assert.equal(custom[1], '42/custom,["auth",{"a":1}]');
      assert.ok(records.includes(`44/random,${INVALID_NAMESPACE}`), JSON.stringify(records));
    });

    it("closes the session upon an invalid packet", async () => {
      const s = await pollingConnected();
      await post(s.url, "4abc").catch(() => {});
      assert.deepEqual(await s.expectClosed(), []);
    });

    it("closes the session upon text while attachments are awaited", async () => {
      const s = await pollingConnected();
      await post(s.url, [`451-["message",${ph(0)}]`, '42["message","x"]'].join(RS)).catch(() => {});
      assert.deepEqual(await s.expectClosed(), []);
    });

    it("closes the session upon an attachment nobody awaits", async () => {
      const s = await pollingConnected();
      await post(s.url, "bAQID").catch(() => {});
      assert.deepEqual(await s.expectClosed(), []);
    });
  });

  describe("invalid packets close the connection", () => {
    it("should close the connection upon invalid format (unknown packet type)", async () => {
      await assertFramesClose("4abc");
    });

    it("should close the connection upon invalid format (invalid payload format)", async () => {
      await assertFramesClose("42{}");
    });

    it("should close the connection upon invalid format (invalid ack id)", async () => {
      await assertFramesClose('42abc["message-with-ack",1,"2",{"3":[false]}]');
    });

    it("closes upon unknown packet types", async () => {
      for (const frame of ["47[]", "48", "49[\"message\"]"]) await assertFramesClose(frame);
    });

    it("closes upon an empty message packet", async () => {
      await assertFramesClose("4");
    });

    it("closes upon an EVENT whose payload is not a non-empty array with a name", async () => {
      for (const frame of ["42[]", '42"message"', "42[null]", "42[{}]", "42[[1]]", "42[true]", '42["message"', "42[\"message\"]x"]) {
        await assertFramesClose(frame);
      }
    });

    it("closes upon reserved event names", async () => {
      for (const name of RESERVED_EVENTS) {
        await assertFramesClose(`42["${name}"]`);
      }
      await assertFramesClose('421["disconnect",1]');
    });

    it("closes upon a DISCONNECT with a payload", async () => {
      await assertFramesClose("41{}");
    });

    it("closes upon an ACK whose payload is not an array", async () => {
      await assertFramesClose("431{}");
      await assertFramesClose('431"x"');
    });

    it("closes upon a CONNECT whose payload is not an object", async () => {
      for (const frame of ["40/custom,[]", '40/custom,"x"', "40/custom,null", "40/custom,true"]) await assertFramesClose(frame);
    });

    it("closes upon an EVENT for a namespace not joined", async () => {
      await assertFramesClose('42/custom,["message"]');
      // also before any namespace was joined
      const ws = await wsSession();
      ws.send('42["message",1]');
      await assertWsClosed(ws, { timeout: 3000 });
    });

    it("closes upon an ACK or a DISCONNECT for a namespace not joined", async () => {
      await assertFramesClose("43/custom,1[]");
      await assertFramesClose("41/custom,");
    });

    it("closes upon a duplicate CONNECT", async () => {
      await assertFramesClose("40");
      const { ws } = await connected();
      await join(ws, "/custom");
      ws.send("40/custom,");
      await assertWsClosed(ws);
    });

    it("closes upon a CONNECT_ERROR from the client", async () => {
      await assertFramesClose('44{"message":"x"}');
      await assertFramesClose('44/custom,"x"');
    });

    it("closes upon a text packet while attachments are awaited", async () => {
      await assertFramesClose(`452-["message",${ph(0)},${ph(1)}]`, Uint8Array.from([1]), '42["message","x"]');
    });

    it("closes upon a binary message when no attachment is awaited", async () => {
      await assertFramesClose(Uint8Array.from([1, 2, 3]));
      await assertFramesClose('42["other",1]', "bAQID");
    });

    it("closes upon a placeholder number out of range", async () => {
      await assertFramesClose(`451-["message",${ph(1)}]`, Uint8Array.from([1]));
      await assertFramesClose(`451-["message",{"_placeholder":true,"num":-1}]`, Uint8Array.from([1]));
      await assertFramesClose(`451-["message",{"_placeholder":true,"num":"0"}]`, Uint8Array.from([1]));
    });

    it("closes upon an invalid attachment count", async () => {
      await assertFramesClose('450-["message"]');
      await assertFramesClose('45x-["message"]');
      await assertFramesClose('45-["message"]');
    });

    it("closes upon more than ten attachments", async () => {
      const phs = Array.from({ length: 11 }, (_, i) => ph(i)).join(",");
      await assertFramesClose(`4511-["message",${phs}]`);
    });

    it("closes only the offending connection", async () => {
      const a = await connected();
      const b = await connected();
      a.ws.send("42{}");
      await assertWsClosed(a.ws);
      await sync(b.ws);
      b.ws.close();
    });
  });

  describe("connectTimeout", () => {
    it("closes a WebSocket connection that never joins a namespace, after ~1 s", async () => {
      const ws = await wsSession();
      const since = Date.now();
      await assertWsClosed(ws, { timeout: CONNECT_TIMEOUT + 4000 });
      const elapsed = Date.now() - since;
      assert.ok(elapsed >= CONNECT_TIMEOUT / 2, `closed after ${elapsed} ms, expected ~${CONNECT_TIMEOUT}`);
      assert.ok(ws.pingsAnswered >= 1, "pings were answered, so the ping timeout did not do it");
    });

    it("closes a polling session that never joins a namespace, after ~1 s", async () => {
      const s = await PollingSession.open(endpoint);
      const since = Date.now();
      assert.deepEqual(await s.expectClosed({ timeout: CONNECT_TIMEOUT + 4000 }), []);
      const elapsed = Date.now() - since;
      assert.ok(elapsed >= CONNECT_TIMEOUT / 2, `closed after ${elapsed} ms, expected ~${CONNECT_TIMEOUT}`);
      assert.ok(s.pings >= 1, "pings were answered");
    });

    it("is not stopped by a rejected CONNECT", async () => {
      const ws = await wsSession();
      ws.send("40/random");
      assert.equal(await wsNext(ws), `44/random,${INVALID_NAMESPACE}`);
      await assertWsClosed(ws, { timeout: CONNECT_TIMEOUT + 4000 });
    });

    it("does not close a connection that joined a namespace", async () => {
      const { ws } = await connected();
      await wsExpectQuiet(ws, CONNECT_TIMEOUT + 500);
      assert.equal(ws.closeInfo, null);
      await sync(ws);
      ws.close();
    });
  });

  describe("multiplexing", () => {
    it("carries several namespaces on one connection", async () => {
      const ws = await wsSession();
      ws.send("40/random");
      assert.equal(await wsNext(ws), `44/random,${INVALID_NAMESPACE}`);
      const main = await join(ws, "/", { auth: { who: "main" } });
      ws.send("40/nope,");
      assert.equal(await wsNext(ws), `44/nope,${INVALID_NAMESPACE}`);
      const custom = await join(ws, "/custom", { auth: { who: "custom" } });
      assert.notEqual(main, custom, "each namespace socket has its own id");
      // /custom has no handlers; / answers
      ws.send('42/custom,["message","to custom"]');
      ws.send('42/custom,1["message-with-ack","to custom"]');
      ws.send('42["message","to main"]');
      assert.equal(await wsNext(ws), '42["message-back","to main"]');
      // leave /custom; / is unaffected
      ws.send("41/custom,");
      ws.send('422["message-with-ack","still main"]');
      assert.equal(await wsNext(ws), '432["still main"]');
      // join /custom again: a new socket
      const custom2 = await join(ws, "/custom");
      assert.notEqual(custom2, custom);
      // leave / ; /custom keeps the connection
      ws.send("41");
      ws.send('42/custom,["message"]');
      await wsExpectQuiet(ws, 200);
      assert.equal(ws.closeInfo, null, "still open");
      const main2 = await join(ws, "/");
      assert.notEqual(main2, main);
      await sync(ws);
      ws.close();
    });

    it("keeps the ack ids of each namespace apart", async () => {
      const { ws } = await connected();
      await join(ws, "/custom");
      ws.send('42/custom,1["message-with-ack","c"]'); // /custom never acks
      ws.send('421["message-with-ack","m"]');
      assert.equal(await wsNext(ws), '431["m"]');
      await sync(ws);
      ws.close();
    });

    it("serves many connections at once", async () => {
      const sessions = await Promise.all(Array.from({ length: 20 }, () => connected()));
      await Promise.all(
        sessions.map(async ({ ws }, i) => {
          ws.send(`42${i}["message-with-ack",${i}]`);
          assert.equal(await wsNext(ws), `43${i}[${i}]`);
          ws.close();
        }),
      );
    });
  });

  describe("JSON", () => {
    // canonical JSON (what JSON.stringify writes) must come back byte for byte
    const CANONICAL = [
      ["key order", '{"b":1,"a":2,"c":{"z":[],"y":{}},"_":""}'],
      ["integers", "0,1,-1,42,99999999999,9007199254740991,-9007199254740991"],
      ["fractions and exponents", "1.5,-0.25,0.1,1e+21,1.7976931348623157e+308,5e-324,1e-7,123456.789"],
      ["unicode raw", '"é€😀てすと Я Б Г ß"'],
      ["escapes", '"quote \\" backslash \\\\ slash / \\b\\f\\n\\r\\t \\u0000 \\u0001 \\u001f \u007f \u2028 \u2029"'],
      ["null, booleans, empties", 'null,false,true,"",[],{}'],
      ["nested", '{"a":[1,[2,[3,[4,{"b":[{"c":null}]}]]]],"d":{"e":{"f":{"g":[false]}}}}'],
      ["keys with escapes and unicode", '{"\\"":1,"ü":2,"\\n":3,"":4}'],
    ];

    for (const [name, args] of CANONICAL) {
      it(`echoes ${name} byte for byte`, async () => {
        const { ws } = await connected();
        ws.send(`42["message",${args}]`);
        assert.equal(await wsNext(ws), `42["message-back",${args}]`);
        ws.send(`421["message-with-ack",${args}]`);
        assert.equal(await wsNext(ws), `431[${args}]`);
        ws.close();
      });
    }

    it("answers large ack ids exactly", async () => {
      const { ws } = await connected();
      for (const id of ["0", "7", "99999999999", "9007199254740991"]) {
        ws.send(`42${id}["message-with-ack",${id}]`);
        assert.equal(await wsNext(ws), `43${id}[${id}]`);
      }
      ws.close();
    });

    it("echoes a large string near maxPayload", async () => {
      const { ws } = await connected();
      const text = "é".repeat(300_000) + "x".repeat(300_000); // 900 000 bytes
      ws.send(`421["message-with-ack","${text}"]`);
      const reply = await wsNext(ws, { timeout: 10_000 });
      assert.equal(reply.length, text.length + 7);
      assert.equal(reply, `431["${text}"]`);
      ws.close();
    });

    // Non-canonical JSON: the reference server parses it (JSON.parse) and
    // writes it again (JSON.stringify), so it comes back normalized.
    it("writes numbers the JSON.stringify way", async () => {
      const { ws } = await connected();
      ws.send('42["message",1.0,1e3,-0,1E2,0.10,100e-2,2.50]');
      assert.equal(await wsNext(ws), '42["message-back",1,1000,0,100,0.1,1,2.5]');
      ws.close();
    });

    it("writes strings the JSON.stringify way", async () => {
      const { ws } = await connected();
      ws.send('42["message","\\u00e9\\/\\u001F\\u0041\\u20ac"]');
      assert.equal(await wsNext(ws), '42["message-back","é/\\u001fA€"]');
      ws.close();
    });

    it("drops insignificant whitespace", async () => {
      const { ws } = await connected();
      ws.send('42[ "message" , { "a" : [ 1 , 2 ] } ,\n\t"x" ]');
      assert.equal(await wsNext(ws), '42["message-back",{"a":[1,2]},"x"]');
      ws.close();
    });

    it("orders object keys the JavaScript way (integer-like keys first, last duplicate wins)", async () => {
      const { ws } = await connected();
      ws.send('42["message",{"b":1,"2":2,"1":1,"a":1,"b":3}]');
      assert.equal(await wsNext(ws), '42["message-back",{"1":1,"2":2,"b":3,"a":1}]');
      ws.close();
    });
  });
});
