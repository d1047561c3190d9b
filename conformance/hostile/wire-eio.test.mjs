// Hostile input at the Engine.IO layer of the `protocol` fixture (/engine.io/ echo
// endpoint): packet types a client must not send, invalid base64, payload floods,
// duplicate and cancelled polls across sessions, upgrade misuse, WebSocket frames that
// break RFC 6455 (invalid UTF-8, unmasked, reserved bits, oversized control frames,
// fragmented or announced messages over the limit). After each case: the exact reaction,
// and a well-behaved socket.io-client on the same server still connects and gets its ack.
// eio-protocol.test.mjs has the single-session basics (invalid packet, 413, 1009,
// duplicate/cancelled poll); these are the abusive variants.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeClients, get, openWs, post, startRequest, WsProbe, sleep, startFixture } from "../test/support/fixture.mjs";
import { RS } from "../test/support/sio.mjs";
import { IS_REFERENCE, PROMPT_MS, assertFixtureHealthy } from "./support.mjs";

let fx;
before(async () => {
  fx = await startFixture("protocol");
});
after(async () => {
  closeClients();
  await fx?.stop();
});

const base = () => `${fx.url}/engine.io/?EIO=4&transport=polling`;
const pollUrl = (sid) => `${base()}&sid=${encodeURIComponent(sid)}`;
const wsUrl = (sid) => `${fx.wsUrl}/engine.io/?EIO=4&transport=websocket${sid ? `&sid=${encodeURIComponent(sid)}` : ""}`;

// Ping frames sent in one burst. The reference (engine.io on ws) drops the connection
// (1006) under a burst of 200 here, so it gets a small one.
const PINGS = IS_REFERENCE ? 20 : 2000;
const UNKNOWN_SID = JSON.stringify({ code: 1, message: "Session ID unknown" });

async function handshake() {
  const res = await get(base());
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body.slice(1)).sid;
}

/** GETs until a non-ping payload arrives (answering pings); returns its records. */
async function nextRecords(sid) {
  for (;;) {
    const res = await get(pollUrl(sid));
    if (res.status !== 200) return { status: res.status, body: res.body };
    const records = res.body.split(RS).filter((r) => r !== "2");
    if (res.body.split(RS).includes("2")) await post(pollUrl(sid), "3");
    if (records.length > 0) return { status: 200, records };
  }
}

async function assertSessionGone(sid) {
  const res = await get(pollUrl(sid));
  assert.equal(res.status, 400);
  assert.equal(res.body, UNKNOWN_SID);
}

/** A WebSocket-only session (OPEN taken, pings answered). */
async function wsSession() {
  const ws = await openWs(wsUrl());
  assert.match(await ws.waitForText(), /^0\{"sid":/);
  return ws.enableAutoPong();
}

/** A masked client frame (opcode, FIN) with `payload`; `mask: false` leaves it unmasked. */
function frame(opcode, payload, { fin = true, mask = true, rsv = 0 } = {}) {
  const p = Buffer.from(payload);
  const len = p.length;
  const first = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
  let header;
  if (len < 126) header = Buffer.from([first, (mask ? 0x80 : 0) | len]);
  else if (len < 65536) header = Buffer.from([first, (mask ? 0x80 : 0) | 126, len >> 8, len & 255]);
  else header = Buffer.from([first, (mask ? 0x80 : 0) | 127, 0, 0, 0, 0, (len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255]);
  if (!mask) return Buffer.concat([header, p]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  for (let i = 0; i < p.length; i++) p[i] ^= key[i % 4];
  return Buffer.concat([header, key, p]);
}

/** Writes raw bytes under a WsProbe (its own frames are not involved). */
const rawWrite = (ws, bytes) => ws.ws._socket.write(bytes);

describe("hostile Engine.IO: packets", () => {
  it("OPEN, UPGRADE and NOOP packets from a polling client are ignored", async () => {
    const sid = await handshake();
    assert.equal((await post(pollUrl(sid), ["0", '0{"sid":"forged"}', "5", "6", "4after"].join(RS))).status, 200);
    assert.deepEqual((await nextRecords(sid)).records, ["4after"]);
    await assertFixtureHealthy(fx);
  });

  it("OPEN, UPGRADE and NOOP packets from a WebSocket client are ignored", async () => {
    const ws = await wsSession();
    for (const f of ["0", "5", "6", "4after"]) ws.send(f);
    assert.equal(await ws.waitForText({ timeout: PROMPT_MS }), "4after");
    ws.close();
    await assertFixtureHealthy(fx);
  });

  it("unknown packet types close the session, on both transports", async () => {
    for (const bad of ["7", "8x", "9", "x", "\u0000", "-1", " 4"]) {
      const sid = await handshake();
      await post(pollUrl(sid), bad);
      await assertSessionGone(sid);
      const ws = await wsSession();
      ws.send(bad);
      const close = await ws.waitForClose(PROMPT_MS);
      assert.equal(close.code, 1005, JSON.stringify(bad));
    }
    await assertFixtureHealthy(fx);
  });

  it("invalid base64: Node decodes what it can, Herald closes the session", async () => {
    for (const bad of ["b!!!", "bAQID=", "b====", "bA"]) {
      const sid = await handshake();
      await post(pollUrl(sid), bad);
      if (IS_REFERENCE) {
        const got = await nextRecords(sid);
        assert.equal(got.status, 200, `${bad}: ${got.body}`);
        assert.match(got.records[0], /^b[A-Za-z0-9+/=]*$/, bad);
      } else {
        await assertSessionGone(sid);
      }
      const ws = await wsSession();
      ws.send(bad);
      if (IS_REFERENCE) {
        assert.equal((await ws.waitFor({ timeout: PROMPT_MS })).binary, true, bad);
        ws.close();
      } else {
        assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1005, bad);
      }
    }
    await assertFixtureHealthy(fx);
  });

  it("a payload of 300,000 one-byte messages is echoed completely", async () => {
    const sid = await handshake();
    const n = 300_000;
    const body = Array.from({ length: n }, () => "4").join(RS); // 599,999 bytes
    assert.equal((await post(pollUrl(sid), body)).status, 200);
    let got = 0;
    while (got < n) {
      const r = await nextRecords(sid);
      assert.equal(r.status, 200, r.body);
      assert.ok(r.records.every((x) => x === "4"));
      got += r.records.length;
    }
    assert.equal(got, n);
    await assertFixtureHealthy(fx);
  });
});

describe("hostile Engine.IO: polls", () => {
  it("a duplicate poll closes that session only", async () => {
    const victim = await handshake();
    const bystander = await handshake();
    const first = startRequest(pollUrl(victim));
    await sleep(30);
    const second = await get(pollUrl(victim));
    assert.ok([400, 500].includes(second.status), `second GET status ${second.status}`);
    assert.equal((await first.response).body, "1", "the pending poll gets the close packet");
    await assertSessionGone(victim);
    await post(pollUrl(bystander), "4still here");
    assert.deepEqual((await nextRecords(bystander)).records, ["4still here"]);
    await assertFixtureHealthy(fx);
  });

  it("50 sessions whose pending poll is cancelled are all closed", async () => {
    const sids = await Promise.all(Array.from({ length: 50 }, handshake));
    const polls = sids.map((sid) => startRequest(pollUrl(sid), { agent: false }));
    await sleep(100);
    for (const p of polls) p.req.destroy();
    await Promise.allSettled(polls.map((p) => p.response));
    await sleep(100);
    for (const sid of sids) await assertSessionGone(sid);
    await assertFixtureHealthy(fx);
  });
});

describe("hostile Engine.IO: upgrade misuse", () => {
  it("a message on the probe before 2probe closes the probe; polling goes on", async () => {
    const sid = await handshake();
    const ws = await openWs(wsUrl(sid));
    ws.send("4sneaky");
    await ws.waitForClose(PROMPT_MS);
    await post(pollUrl(sid), "4polling");
    assert.deepEqual((await nextRecords(sid)).records, ["4polling"]);
    await assertFixtureHealthy(fx);
  });

  it("a second probe while one is pending is closed; the first upgrade completes", async () => {
    const sid = await handshake();
    const a = await openWs(wsUrl(sid));
    a.send("2probe");
    assert.equal(await a.waitForText(), "3probe");
    const b = new WsProbe(wsUrl(sid));
    await b.waitForClose(PROMPT_MS);
    a.send("5");
    a.send("4over ws");
    assert.equal(await a.waitForText({ skipPings: true, timeout: PROMPT_MS }), "4over ws");
    a.close();
    await assertFixtureHealthy(fx);
  });

  it("an upgrade for a session that is already on WebSocket is refused", async () => {
    const ws = await openWs(wsUrl());
    const sid = JSON.parse((await ws.waitForText()).slice(1)).sid;
    ws.enableAutoPong();
    const again = new WsProbe(wsUrl(sid));
    if (IS_REFERENCE) {
      // engine.io takes it as a probe and leaves it to upgradeTimeout (10 s)
      assert.equal(await again.waitForOpen(), true);
      again.terminate();
    } else {
      await again.waitForClose(PROMPT_MS);
    }
    ws.send("4first still works");
    assert.equal(await ws.waitForText({ timeout: PROMPT_MS }), "4first still works");
    ws.close();
    await assertFixtureHealthy(fx);
  });

  it("a probe with invalid UTF-8 is failed with 1007; polling goes on", async () => {
    const sid = await handshake();
    const ws = await openWs(wsUrl(sid));
    rawWrite(ws, frame(1, Buffer.from([0x32, 0xff, 0xfe])));
    assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1007);
    await post(pollUrl(sid), "4polling");
    assert.deepEqual((await nextRecords(sid)).records, ["4polling"]);
    await assertFixtureHealthy(fx);
  });
});

describe("hostile Engine.IO: WebSocket frames", () => {
  it("a text frame that is not UTF-8 is failed with 1007", async () => {
    const ws = await wsSession();
    rawWrite(ws, frame(1, Buffer.from([0x34, 0xc3, 0x28])));
    assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1007);
    await assertFixtureHealthy(fx);
  });

  it("a fragmented text message whose fragments are not UTF-8 together is failed with 1007", async () => {
    const ws = await wsSession();
    rawWrite(ws, Buffer.concat([frame(1, Buffer.from([0x34, 0xe2]), { fin: false }), frame(0, Buffer.from([0x28, 0xa1]))]));
    assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1007);
    await assertFixtureHealthy(fx);
  });

  it("an unmasked client frame is a protocol error (1002)", async () => {
    const ws = await wsSession();
    rawWrite(ws, frame(1, "4hello", { mask: false }));
    assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1002);
    await assertFixtureHealthy(fx);
  });

  it("reserved bits without an extension are a protocol error (1002)", async () => {
    const ws = await wsSession();
    rawWrite(ws, frame(1, "4hello", { rsv: 4 }));
    assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1002);
    await assertFixtureHealthy(fx);
  });

  it("a ping frame over 125 bytes is a protocol error (1002)", async () => {
    const ws = await wsSession();
    rawWrite(ws, frame(9, Buffer.alloc(200, 1)));
    assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1002);
    await assertFixtureHealthy(fx);
  });

  it("an unknown opcode is a protocol error (1002)", async () => {
    const ws = await wsSession();
    rawWrite(ws, frame(3, "x"));
    assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1002);
    await assertFixtureHealthy(fx);
  });

  it("a fragmented message over maxPayload is closed with 1009", async () => {
    const ws = await wsSession();
    const part = Buffer.alloc(400_000, 0x61);
    rawWrite(ws, Buffer.concat([frame(1, Buffer.concat([Buffer.from("4"), part]), { fin: false }), frame(0, part, { fin: false }), frame(0, part)]));
    assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1009);
    await assertFixtureHealthy(fx);
  });

  it("a frame header announcing 2^63-1 bytes is closed with 1009 at once", async () => {
    const ws = await wsSession();
    rawWrite(ws, Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4]));
    assert.equal((await ws.waitForClose(PROMPT_MS)).code, 1009);
    await assertFixtureHealthy(fx);
  });

  it("a flood of pings is answered and does not stop the echo", async () => {
    const ws = await wsSession();
    let pongs = 0;
    ws.ws.on("pong", () => pongs++);
    for (let i = 0; i < PINGS; i++) ws.ws.ping(Buffer.from(String(i)));
    ws.send("4after the pings");
    assert.equal(await ws.waitForText({ timeout: PROMPT_MS }), "4after the pings");
    const deadline = Date.now() + PROMPT_MS;
    while (pongs < PINGS && Date.now() < deadline) await sleep(10);
    assert.equal(pongs, PINGS);
    ws.close();
    await assertFixtureHealthy(fx);
  });
});
