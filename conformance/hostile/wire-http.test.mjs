// Hostile input at the HTTP layer of the `protocol` fixture: malformed request lines,
// huge URLs and headers, broken framing (Content-Length, chunked), bad query strings,
// unknown methods, odd content types and bytes. After each case: the exact reaction, and
// a well-behaved socket.io-client on the same server still connects and gets its ack.
//
// Runs against the Rust fixture and the reference (`run.sh --reference`). The HTTP
// stacks differ where the input is not HTTP at all (hyper names the limit it hit, 414/431,
// where Node answers 400); such cases state both reactions.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeClients, get, post, request, startFixture } from "../test/support/fixture.mjs";
import { IS_REFERENCE, assertFixtureHealthy, rawExchange } from "./support.mjs";

let fx;
before(async () => {
  fx = await startFixture("protocol");
});
after(async () => {
  closeClients();
  await fx?.stop();
});

const EIO = "/engine.io/?EIO=4&transport=polling";
const head = (line, headers = []) => `${line}\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`;

/** Sends `data` raw, checks the status and that the server closed the connection, then health. */
async function refused(data, status) {
  const res = await rawExchange(fx.port, data);
  assert.equal(res.status, status, `status of ${JSON.stringify(res.head.slice(0, 200))}`);
  assert.ok(res.closed, "the server closed the connection");
  await assertFixtureHealthy(fx);
  return res;
}

async function handshake() {
  const res = await get(`${fx.url}${EIO}`);
  assert.equal(res.status, 200, res.body);
  return JSON.parse(res.body.slice(1)).sid;
}

describe("hostile HTTP: not HTTP", () => {
  it("a garbage request line gets 400 and the connection closed", async () => {
    await refused("GARBAGE\r\n\r\n", 400);
    await refused("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not a TLS hello either\r\n\r\n", 400);
  });

  it("an HTTP/2 preface is refused and the connection closed", async () => {
    const res = await rawExchange(fx.port, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert.ok(res.closed);
    // hyper (HTTP/1 only) closes without an answer; Node answers 400
    assert.equal(res.status, IS_REFERENCE ? 400 : null, res.head);
    await assertFixtureHealthy(fx);
  });

  it("an HTTP/0.9 request line is refused (Node serves it)", async () => {
    const res = await rawExchange(fx.port, `GET ${EIO}\r\n\r\n`);
    if (IS_REFERENCE) {
      assert.equal(res.status, 200);
    } else {
      assert.equal(res.status, 400);
      assert.ok(res.closed);
    }
    await assertFixtureHealthy(fx);
  });
});

describe("hostile HTTP: sizes", () => {
  it("a 1 MB URL gets 431 (Node: 400) and the connection closed", async () => {
    await refused(head(`GET ${EIO}&x=${"a".repeat(1_000_000)} HTTP/1.1`), IS_REFERENCE ? 400 : 431);
  });

  it("a 100 KB URL gets 414 (Node: 400) and the connection closed", async () => {
    await refused(head(`GET ${EIO}&x=${"a".repeat(100_000)} HTTP/1.1`), IS_REFERENCE ? 400 : 414);
  });

  it("200 headers of 100 bytes get 431 (Node: 400) and the connection closed", async () => {
    const many = Array.from({ length: 200 }, (_, i) => `X-Filler-${i}: ${"v".repeat(100)}`);
    await refused(head(`GET ${EIO} HTTP/1.1`, many), IS_REFERENCE ? 400 : 431);
  });

  it("one 1 MB header gets 431 (Node: 400) and the connection closed", async () => {
    await refused(head(`GET ${EIO} HTTP/1.1`, [`X-Big: ${"v".repeat(1_000_000)}`]), IS_REFERENCE ? 400 : 431);
  });
});

describe("hostile HTTP: framing", () => {
  it("a NUL byte in a header value gets 400 and the connection closed", async () => {
    await refused(head(`GET ${EIO} HTTP/1.1`, ["X-A: a\x00b"]), 400);
  });

  it("a header line without a colon gets 400 and the connection closed", async () => {
    await refused(head(`GET ${EIO} HTTP/1.1`, ["no colon here"]), 400);
  });

  it("a non-numeric or negative Content-Length gets 400 and the connection closed", async () => {
    const sid = await handshake();
    await refused(head(`POST ${EIO}&sid=${sid} HTTP/1.1`, ["Content-Length: abc"]), 400);
    await refused(head(`POST ${EIO}&sid=${sid} HTTP/1.1`, ["Content-Length: -1"]), 400);
  });

  it("two different Content-Length headers get 400 and the connection closed", async () => {
    const sid = await handshake();
    await refused(`${head(`POST ${EIO}&sid=${sid} HTTP/1.1`, ["Content-Length: 2", "Content-Length: 3"])}4a`, 400);
  });

  it("Content-Length with Transfer-Encoding (request smuggling) never gets a second request through", async () => {
    const sid = await handshake();
    const res = await rawExchange(
      fx.port,
      `${head(`POST ${EIO}&sid=${sid} HTTP/1.1`, ["Content-Length: 4", "Transfer-Encoding: chunked"])}2\r\n4a\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    assert.ok(res.closed, "the server closed the connection");
    const answers = res.bytes.toString("latin1").match(/HTTP\/1\.1 \d{3}/g);
    assert.equal(answers.length, 1, "one answer: the smuggled request is never read");
    if (IS_REFERENCE) {
      assert.equal(res.status, 400, "Node refuses both headers");
    } else {
      // RFC 9112 §6.3: Transfer-Encoding wins, and the connection is closed after the answer
      assert.equal(res.status, 200, res.head);
      assert.match(res.head, /connection: close/i);
    }
    await assertFixtureHealthy(fx);
  });

  it("an invalid chunk size gets 400 and the connection closed", async () => {
    const sid = await handshake();
    await refused(`${head(`POST ${EIO}&sid=${sid} HTTP/1.1`, ["Transfer-Encoding: chunked"])}zz\r\n4a\r\n0\r\n\r\n`, 400);
  });

  it("a chunked POST over maxPayload gets 413 without knowing the length up front", async () => {
    const sid = await handshake();
    const chunk = "a".repeat(64 * 1024);
    const chunks = Array.from({ length: 20 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("");
    const res = await rawExchange(fx.port, `${head(`POST ${EIO}&sid=${sid} HTTP/1.1`, ["Transfer-Encoding: chunked"])}1\r\n4\r\n${chunks}0\r\n\r\n`);
    assert.equal(res.status, 413, res.head);
    await assertFixtureHealthy(fx);
  });

  it("a POST whose body never completes does not hold the server", async () => {
    const sid = await handshake();
    // 10 bytes of 100 promised, then the client goes away
    const res = await rawExchange(fx.port, `${head(`POST ${EIO}&sid=${sid} HTTP/1.1`, ["Content-Length: 100"])}4truncated`, { ms: 300 });
    assert.equal(res.status, null, "no answer to an incomplete body");
    await assertFixtureHealthy(fx);
  });
});

describe("hostile HTTP: query strings", () => {
  it("an undecodable sid is an unknown sid (400 code 1)", async () => {
    for (const sid of ["%zz%", "%", "%00", "%ff%fe", "a".repeat(10_000)]) {
      const res = await get(`${fx.url}${EIO}&sid=${sid}`);
      assert.equal(res.status, 400, sid);
      assert.equal(res.body, JSON.stringify({ code: 1, message: "Session ID unknown" }));
    }
    await assertFixtureHealthy(fx);
  });

  it("undecodable transport and EIO values get 400 with their codes", async () => {
    let res = await get(`${fx.url}/engine.io/?EIO=4&transport=%zz`);
    assert.equal(res.body, JSON.stringify({ code: 0, message: "Transport unknown" }));
    res = await get(`${fx.url}/engine.io/?EIO=4&transport=polling%00`);
    assert.equal(res.body, JSON.stringify({ code: 0, message: "Transport unknown" }));
    res = await get(`${fx.url}/engine.io/?EIO=%zz&transport=polling`);
    assert.equal(res.status, 400);
    assert.equal(res.body, JSON.stringify({ code: 5, message: "Unsupported protocol version" }));
    res = await get(`${fx.url}/engine.io/?EIO=4%00&transport=polling`);
    assert.equal(res.body, JSON.stringify({ code: 5, message: "Unsupported protocol version" }));
    await assertFixtureHealthy(fx);
  });

  it("empty keys, lone ampersands and invalid UTF-8 in other parameters do not stop a handshake", async () => {
    for (const q of ["&&&=&=&", "%ff=%fe", "x=%e2%82", "=4", "t=" + "%41".repeat(2000)]) {
      const res = await get(`${fx.url}${EIO}&${q}`);
      assert.equal(res.status, 200, `${q}: ${res.body}`);
      assert.match(res.body, /^0\{"sid":/);
    }
    await assertFixtureHealthy(fx);
  });
});

describe("hostile HTTP: methods and content types", () => {
  it("an unknown method gets 400", async () => {
    const res = await rawExchange(fx.port, head(`FOO ${EIO} HTTP/1.1`), { ms: 500 });
    assert.equal(res.status, 400, res.head);
    if (IS_REFERENCE) {
      assert.ok(res.closed, "Node closes on an unknown method");
    } else {
      // hyper hands it on: the Engine.IO answer (code 2, bad handshake method)
      assert.match(res.bytes.toString(), /\{"code":2,"message":"Bad handshake method"\}/);
    }
    await assertFixtureHealthy(fx);
  });

  it("DELETE, PATCH and PUT with a valid sid leave the session working", async () => {
    const sid = await handshake();
    for (const method of ["DELETE", "PATCH", "PUT"]) {
      const res = await request(`${fx.url}${EIO}&sid=${sid}`, { method, body: "4x" });
      assert.ok(res.status >= 400, `${method}: ${res.status}`);
    }
    assert.deepEqual([(await post(`${fx.url}${EIO}&sid=${sid}`, "4still")).status], [200]);
    assert.equal((await get(`${fx.url}${EIO}&sid=${sid}`)).body, "4still");
    await assertFixtureHealthy(fx);
  });

  it("a POST with any text content type, or none, is taken as the payload", async () => {
    for (const type of ["application/json", "multipart/form-data; boundary=x", "text/html; charset=latin1", "x/y;;;=", null]) {
      const sid = await handshake();
      const headers = type === null ? { "Content-Type": "" } : { "Content-Type": type };
      const res = await post(`${fx.url}${EIO}&sid=${sid}`, "4typed", { headers });
      assert.equal(res.status, 200, `${type}: ${res.body}`);
      assert.equal((await get(`${fx.url}${EIO}&sid=${sid}`)).body, "4typed", String(type));
    }
    await assertFixtureHealthy(fx);
  });

  it("a POST body that is not UTF-8: Node decodes it with replacement characters, Herald closes the session", async () => {
    const sid = await handshake();
    const res = await post(`${fx.url}${EIO}&sid=${sid}`, Buffer.from([0x34, 0xff, 0x41, 0xfe]));
    const next = await get(`${fx.url}${EIO}&sid=${sid}`);
    if (IS_REFERENCE) {
      assert.equal(res.status, 200, res.body);
      assert.equal(next.body, "4\ufffdA\ufffd");
    } else {
      // as a WebSocket text frame that is not UTF-8 fails the connection (1007)
      assert.equal(next.status, 400);
      assert.equal(next.body, JSON.stringify({ code: 1, message: "Session ID unknown" }));
    }
    await assertFixtureHealthy(fx);
  });
});
