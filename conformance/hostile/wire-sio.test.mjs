// Hostile input at the Socket.IO layer of the `protocol` fixture (/socket.io/, namespaces
// `/` and `/custom`): ack ids that are not numbers a client writes, placeholder abuse
// (duplicates, amplification, non-integers, forged shapes), attachment floods and
// half-sent binary packets, JSON nested without bound, odd numbers and strings, floods of
// unknown namespaces and huge namespace names. After each case: the exact reaction, and a
// well-behaved socket.io-client on the same server still connects and gets its ack.
// sio-protocol.test.mjs has the decoder's basic strictness (unknown types, bad payloads,
// out-of-range placeholders, > 10 attachments, reserved names); these are the abusive
// variants. Where the reference parser is lenient about garbage (it reads `42 1[…]` as ack
// id 1, and echoes duplicated placeholders as separate attachments), Herald closes the
// connection: both reactions are stated.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeClients, startFixture } from "../test/support/fixture.mjs";
import { ph } from "../test/support/sio.mjs";
import { IS_REFERENCE, assertClosedSilently, assertEchoes, assertFixtureHealthy, frames, sioWs } from "./support.mjs";

let fx;
before(async () => {
  fx = await startFixture("protocol");
});
after(async () => {
  closeClients();
  await fx?.stop();
});

/** Joins `/`, sends `packets`, and returns the server's reaction (see frames()). */
async function react(packets, n = 1, ms = 1000) {
  const ws = await sioWs(fx);
  for (const p of packets) ws.send(p);
  return { ws, ...(await frames(ws, n, ms)) };
}

/** The packets close the connection (Herald), having sent nothing. */
async function closes(packets) {
  const ws = await sioWs(fx);
  for (const p of packets) ws.send(p);
  await assertClosedSilently(ws);
}

describe("hostile Socket.IO: ack ids", () => {
  it("an ack id with a space or sign: Node reads a number, Herald closes", async () => {
    for (const f of ['42 1["message-with-ack",1]', '42+1["message-with-ack",1]']) {
      if (IS_REFERENCE && f.startsWith("42 ")) {
        const { ws, frames: got } = await react([f]);
        assert.deepEqual(got, ["431[1]"]);
        ws.close();
      } else {
        await closes([f]);
      }
    }
    await assertFixtureHealthy(fx);
  });

  it("an ack id past 2^53: Node rounds it, Herald closes", async () => {
    const f = '4299999999999999999999["message-with-ack",1]';
    if (IS_REFERENCE) {
      const { ws, frames: got } = await react([f]);
      assert.deepEqual(got, ["43100000000000000000000[1]"], "the rounded id: a client could never match it");
      ws.close();
    } else {
      await closes([f]);
    }
    await assertFixtureHealthy(fx);
  });

  it("a fractional ack id closes the connection", async () => {
    await closes(['421.5["message-with-ack",1]']);
    await assertFixtureHealthy(fx);
  });

  it("a BINARY_ACK for an id never sent is dropped; the connection goes on", async () => {
    const ws = await sioWs(fx);
    ws.send(`461-[${ph(0)}]`);
    ws.send(Buffer.from([1, 2, 3]));
    ws.send("4377[1]");
    await assertEchoes(ws);
    ws.close();
    await assertFixtureHealthy(fx);
  });
});

describe("hostile Socket.IO: placeholders", () => {
  it("a placeholder used twice: Node echoes two attachments, Herald closes", async () => {
    const packets = [`451-["message",${ph(0)},{"x":${ph(0)}}]`, Buffer.from([7, 7, 7])];
    if (IS_REFERENCE) {
      const { ws, frames: got } = await react(packets, 3);
      assert.deepEqual(got, [`452-["message-back",${ph(0)},{"x":${ph(1)}}]`, "<bin 3>", "<bin 3>"]);
      ws.close();
    } else {
      await closes(packets);
    }
    await assertFixtureHealthy(fx);
  });

  it("one attachment referenced 1,000 times (amplification): Node sends 1,000 copies, Herald closes", async () => {
    const packets = [`451-["message",${Array.from({ length: 1000 }, () => ph(0)).join(",")}]`, Buffer.alloc(1000, 7)];
    if (IS_REFERENCE) {
      const { ws, frames: got } = await react(packets, 1001, 2000);
      assert.equal(got.length, 1001);
      assert.ok(got.slice(1).every((f) => f === "<bin 1000>"));
      ws.close();
    } else {
      await closes(packets);
    }
    await assertFixtureHealthy(fx);
  });

  it("a placeholder number that is not an integer: Node drops it to null, Herald closes", async () => {
    const packets = [`451-["message",{"_placeholder":true,"num":0.5}]`, Buffer.from([1])];
    if (IS_REFERENCE) {
      const { ws, frames: got } = await react(packets, 1);
      assert.deepEqual(got, ['42["message-back",null]']);
      ws.close();
    } else {
      await closes(packets);
    }
    await assertFixtureHealthy(fx);
  });

  it("placeholder look-alikes are data, and extra keys on a real one are dropped", async () => {
    const { ws, frames: got } = await react(
      [
        '42["message",{"_placeholder":"yes","num":0},{"_placeholder":true}]',
        `451-["message",{"_placeholder":true,"num":0,"extra":1}]`,
        Buffer.from([9]),
      ],
      3,
    );
    assert.deepEqual(got, [
      '42["message-back",{"_placeholder":"yes","num":0},{"_placeholder":true}]',
      `451-["message-back",${ph(0)}]`,
      "<bin 1>",
    ]);
    ws.close();
    await assertFixtureHealthy(fx);
  });
});

describe("hostile Socket.IO: attachment floods", () => {
  it("200 binary events of 10 attachments each are all echoed, in order", async () => {
    // 100-byte attachments: the claim is about the number of packets and their order.
    // (With 1,000-byte ones the 2.2 MB each way could take longer than the fixture's
    // 200 ms ping timeout on a loaded machine, the client's pong being queued behind them.)
    const ws = await sioWs(fx);
    const header = `4510-["message",${Array.from({ length: 10 }, (_, k) => ph(k)).join(",")}]`;
    for (let i = 0; i < 200; i++) {
      ws.send(header);
      for (let k = 0; k < 10; k++) ws.send(Buffer.alloc(100, (i + k) % 256));
    }
    // Each attachment's bytes say which event and slot it was: the echo keeps them in order.
    for (let i = 0; i < 200; i++) {
      const head = await ws.waitFor({ timeout: 3000, skipPings: true });
      assert.ok(!head.binary && head.data.startsWith('4510-["message-back"'), `event ${i}: ${head.data}`);
      for (let k = 0; k < 10; k++) {
        const m = await ws.waitFor({ timeout: 3000, skipPings: true });
        assert.ok(m.binary && m.data.length === 100, `event ${i} attachment ${k}`);
        assert.equal(m.data[0], (i + k) % 256, `event ${i} attachment ${k} out of order`);
      }
    }
    assert.equal(ws.closeInfo, null);
    ws.close();
    await assertFixtureHealthy(fx);
  });

  it("a binary event whose attachments never all come holds nothing else up", async () => {
    const ws = await sioWs(fx);
    ws.send(`4510-["message",${Array.from({ length: 10 }, (_, k) => ph(k)).join(",")}]`);
    for (let k = 0; k < 9; k++) ws.send(Buffer.alloc(100_000, k));
    const { frames: got, close } = await frames(ws, 1, 500);
    assert.deepEqual(got, [], "nothing is echoed before the last attachment");
    assert.equal(close, null, "waiting for an attachment is not an error");
    await assertFixtureHealthy(fx);
    ws.terminate();
    await assertFixtureHealthy(fx);
  });
});

describe("hostile Socket.IO: JSON", () => {
  it("JSON nested 100 deep is echoed", async () => {
    const deep = `${"[".repeat(100)}${"]".repeat(100)}`;
    const { ws, frames: got } = await react([`42["message",${deep}]`]);
    assert.deepEqual(got, [`42["message-back",${deep}]`]);
    ws.close();
    await assertFixtureHealthy(fx);
  });

  it("JSON nested 100,000 deep: Node never answers, Herald closes (depth limit 128)", async () => {
    for (const deep of [`${"[".repeat(100_000)}${"]".repeat(100_000)}`, `${'{"a":'.repeat(50_000)}1${"}".repeat(50_000)}`]) {
      if (IS_REFERENCE) {
        const { ws, frames: got, close } = await react([`42["message",${deep}]`], 1, 500);
        assert.deepEqual(got, []);
        assert.equal(close, null);
        ws.close();
      } else {
        await closes([`42["message",${deep}]`]);
      }
    }
    await assertFixtureHealthy(fx);
  });

  it("numbers out of range become null, lone surrogates stay escaped", async () => {
    const { ws, frames: got } = await react(['42["message",1e400,-1e400]', '42["message","\\ud800","\\udfff x"]'], 2);
    assert.deepEqual(got, ['42["message-back",null,null]', '42["message-back","\\ud800","\\udfff x"]']);
    ws.close();
    await assertFixtureHealthy(fx);
  });

  it("a __proto__ key in the CONNECT auth is passed through as data", async () => {
    const ws = await sioWs(fx, { join: false });
    ws.send('40/custom,{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}');
    const { frames: got } = await frames(ws, 2);
    assert.match(got[0], /^40\/custom,\{"sid":"[^"]+"\}$/);
    assert.equal(got[1], '42/custom,["auth",{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}]');
    ws.close();
    await assertFixtureHealthy(fx);
  });
});

describe("hostile Socket.IO: namespaces", () => {
  it("500 CONNECTs to unknown namespaces each get CONNECT_ERROR; the connection stays", async () => {
    const ws = await sioWs(fx, { join: false });
    for (let i = 0; i < 500; i++) ws.send(`40/nope${i},`);
    const { frames: got, close } = await frames(ws, 500, 2000);
    assert.equal(close, null);
    assert.equal(got.length, 500);
    got.forEach((f, i) => assert.equal(f, `44/nope${i},{"message":"Invalid namespace"}`));
    ws.send("40");
    const { frames: joined } = await frames(ws, 2);
    assert.match(joined[0], /^40\{"sid":/);
    await assertEchoes(ws);
    ws.close();
    await assertFixtureHealthy(fx);
  });

  it("a 900 KB namespace name gets CONNECT_ERROR with the name as written", async () => {
    const ws = await sioWs(fx, { join: false });
    const name = `/${"x".repeat(900_000)}`;
    ws.send(`40${name},`);
    const { frames: got, close } = await frames(ws, 1, 3000);
    assert.equal(close, null);
    assert.equal(got[0], `44${name},{"message":"Invalid namespace"}`);
    ws.close();
    await assertFixtureHealthy(fx);
  });

  it("control characters and query strings in namespace names are names like others", async () => {
    const ws = await sioWs(fx, { join: false });
    for (const nsp of ["/\u0000", "/custom?x=1", "/custom/../", "/\u2028"]) ws.send(`40${nsp},`);
    const { frames: got } = await frames(ws, 4);
    assert.deepEqual(got, ["/\u0000", "/custom?x=1", "/custom/../", "/\u2028"].map((n) => `44${n},{"message":"Invalid namespace"}`));
    ws.close();
    await assertFixtureHealthy(fx);
  });

  it("a namespace that does not start with a slash closes the connection", async () => {
    await closes(["40abc"]);
    await assertFixtureHealthy(fx);
  });
});
