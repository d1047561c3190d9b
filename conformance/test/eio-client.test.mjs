// The `eio-client` profile driven by the real `engine.io-client` package
// (Node build: XHR polling and `ws` WebSocket), plus raw probes of the
// profile's own settings (maxPayload 100, allowRequest `deny`, initial
// Set-Cookie headers, sendHeaders).

import assert from "node:assert/strict";
import { Socket } from "engine.io-client";
import {
  closeClients,
  conformance,
  get,
  post,
  rawHeaderValues,
  sleep,
  startFixture,
  WsProbe,
  openWs,
} from "./support/fixture.mjs";

const { describe, it, before, after } = conformance(import.meta.url);

const UTF8_TEXT = "пойду спать всем спокойной ночи";
const RS = "\x1e";

let fx;
const clients = new Set();

before(async () => {
  fx = await startFixture("eio-client");
});

after(async () => {
  for (const c of clients) c.socket.close();
  closeClients();
  await fx?.stop();
});

// --- helpers -------------------------------------------------------------------

/**
 * An engine.io-client Socket with buffered events: messages are queued from
 * the start, so none is lost between awaits.
 */
function connect(opts = {}) {
  const socket = new Socket(fx.url, opts);
  const client = { socket, queue: [], waiters: [], errors: [], upgrades: [], closeInfo: null };
  clients.add(client);
  socket.on("message", (data) => {
    const w = client.waiters.shift();
    if (w) w(data);
    else client.queue.push(data);
  });
  socket.on("error", (err) => client.errors.push(err));
  socket.on("upgrade", (transport) => client.upgrades.push(transport.name));
  client.opened = new Promise((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", (err) => reject(err));
  });
  client.opened.catch(() => {});
  client.closed = new Promise((resolve) => {
    socket.once("close", (reason, description) => {
      client.closeInfo = { reason, description };
      clients.delete(client);
      resolve(client.closeInfo);
    });
  });
  client.next = (timeout = 5000) => {
    if (client.queue.length) return Promise.resolve(client.queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = client.waiters.indexOf(done);
        if (i >= 0) client.waiters.splice(i, 1);
        reject(new Error(`no message within ${timeout} ms`));
      }, timeout);
      const done = (data) => {
        clearTimeout(timer);
        resolve(data);
      };
      client.waiters.push(done);
    });
  };
  client.waitClose = async (timeout = 5000) => {
    let timer;
    const expired = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`client not closed within ${timeout} ms`)), timeout);
    });
    try {
      return await Promise.race([client.closed, expired]);
    } finally {
      clearTimeout(timer);
    }
  };
  return client;
}

/** Connects and checks that `hi` is the first message. */
async function connected(opts) {
  const client = connect(opts);
  await client.opened;
  assert.equal(await client.next(), "hi", "first message is hi");
  return client;
}

function asBytes(data) {
  assert.notEqual(typeof data, "string", `expected binary data, got the string ${JSON.stringify(data)}`);
  if (data instanceof ArrayBuffer) return [...new Uint8Array(data)];
  return [...new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

/** Waits for the client's upgrade (it may have happened already). */
async function upgradedTo(client, transport, timeout = 5000) {
  const deadline = Date.now() + timeout;
  while (!client.upgrades.includes(transport)) {
    if (Date.now() > deadline) assert.fail(`no upgrade to ${transport} within ${timeout} ms`);
    await sleep(20);
  }
  assert.equal(client.socket.transport.name, transport);
}

async function closeClient(client) {
  client.socket.close();
  await client.waitClose();
}

const eio = (query) => `${fx.url}/engine.io/?${query}`;

async function rawHandshake(query = "") {
  const res = await get(eio(`EIO=4&transport=polling${query}`));
  assert.equal(res.status, 200, res.body);
  assert.equal(res.body[0], "0");
  const open = JSON.parse(res.body.slice(1));
  return { res, open, sid: open.sid };
}

async function untilUnknownSid(sid, timeout = 3000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const res = await get(eio(`EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`), { timeout: 3000 }).catch(
      (err) => ({ status: 0, body: err.message }),
    );
    // 400 code 3 (transport mismatch) means the session still exists on WebSocket
    if (res.status === 400 && res.body === '{"code":1,"message":"Session ID unknown"}') return;
    if (Date.now() > deadline) assert.fail(`session ${sid} still known after ${timeout} ms (${res.status} ${res.body})`);
    await sleep(50);
  }
}

const TRANSPORTS = [
  ["polling", { transports: ["polling"] }],
  ["websocket", { transports: ["websocket"] }],
];

// --- connection --------------------------------------------------------------------

describe("connection", () => {
  it("connects with polling only", async () => {
    const client = await connected({ transports: ["polling"] });
    assert.equal(client.socket.transport.name, "polling");
    client.socket.send("ping-pong");
    assert.equal(await client.next(), "ping-pong");
    assert.deepEqual(client.upgrades, []);
    await closeClient(client);
  });

  it("connects with websocket only", async () => {
    const client = await connected({ transports: ["websocket"] });
    assert.equal(client.socket.transport.name, "websocket");
    client.socket.send("ping-pong");
    assert.equal(await client.next(), "ping-pong");
    await closeClient(client);
  });

  it("upgrades from polling to websocket by default", async () => {
    const client = connect();
    await client.opened;
    assert.equal(client.socket.transport.name, "polling", "starts on polling");
    assert.equal(await client.next(), "hi");
    await upgradedTo(client, "websocket");
    assert.deepEqual(client.upgrades, ["websocket"]);
    client.socket.send("after upgrade");
    assert.equal(await client.next(), "after upgrade");
    await closeClient(client);
  });

  it("advertises the profile's options in the OPEN packet", async () => {
    const { res, open } = await rawHandshake();
    assert.deepEqual(Object.keys(open), ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"]);
    assert.deepEqual(open.upgrades, ["websocket"]);
    assert.equal(open.pingInterval, 500);
    assert.equal(open.pingTimeout, 20000);
    assert.equal(open.maxPayload, 100);
    assert.equal(res.headers["access-control-allow-origin"], undefined, "no CORS on this profile");
  });

  it("keeps a session alive across server pings", async () => {
    const client = await connected({ transports: ["websocket"] });
    let pings = 0;
    client.socket.on("ping", () => pings++);
    await sleep(1300); // pingInterval 500
    assert.ok(pings >= 2, `${pings} pings in 1.3 s`);
    client.socket.send("still here");
    assert.equal(await client.next(), "still here");
    await closeClient(client);
  });
});

// --- messages ------------------------------------------------------------------------

for (const [name, opts] of TRANSPORTS) {
  describe(`messages over ${name}`, () => {
    it("echoes text", async () => {
      const client = await connected(opts);
      client.socket.send("hello");
      client.socket.send("{\"json\":[1,2]}");
      assert.equal(await client.next(), "hello");
      assert.equal(await client.next(), "{\"json\":[1,2]}");
      await closeClient(client);
    });

    it("sends UTF-8 text (give utf8) and echoes it", async () => {
      const client = await connected(opts);
      client.socket.send("give utf8");
      assert.equal(await client.next(), UTF8_TEXT);
      client.socket.send("日本語 ☃ €");
      assert.equal(await client.next(), "日本語 ☃ €");
      await closeClient(client);
    });

    it("sends binary (give binary)", async () => {
      const client = await connected(opts);
      client.socket.send("give binary");
      assert.deepEqual(asBytes(await client.next()), [0, 1, 2, 3, 4]);
      await closeClient(client);
    });

    it("echoes binary sent as Buffer, Uint8Array and ArrayBuffer", async () => {
      const client = await connected(opts);
      client.socket.send(Buffer.from([1, 2, 3]));
      client.socket.send(Uint8Array.from([250, 0, 128]));
      client.socket.send(Uint8Array.from([7, 8]).buffer);
      assert.deepEqual(asBytes(await client.next()), [1, 2, 3]);
      assert.deepEqual(asBytes(await client.next()), [250, 0, 128]);
      assert.deepEqual(asBytes(await client.next()), [7, 8]);
      await closeClient(client);
    });

    it("keeps the order of many messages sent at once", async () => {
      const client = await connected(opts);
      const sent = [];
      // engine.io-client underestimates the base64 size of binary packets when it
      // splits polling POSTs by maxPayload, so binary is mixed in over WebSocket only
      const mixBinary = name === "websocket";
      for (let i = 0; i < 60; i++) {
        const m = mixBinary && i % 5 === 4 ? Buffer.from([i]) : `message ${i}`;
        sent.push(m);
        client.socket.send(m);
      }
      for (const m of sent) {
        const got = await client.next();
        if (typeof m === "string") assert.equal(got, m);
        else assert.deepEqual(asBytes(got), [...m]);
      }
      assert.equal(client.closeInfo, null, "still connected");
      await closeClient(client);
    });
  });
}

describe("maxPayload 100", () => {
  it("makes the client split its POSTs: every message arrives, in order", async () => {
    const client = await connected({ transports: ["polling"] });
    const sent = [];
    // ~30 bytes each: far more than one 100-byte POST can carry
    for (let i = 0; i < 40; i++) {
      const m = `batch-${String(i).padStart(2, "0")}-${"x".repeat(20)}`;
      sent.push(m);
      client.socket.send(m);
    }
    const got = [];
    for (let i = 0; i < sent.length; i++) got.push(await client.next());
    assert.deepEqual(got, sent);
    assert.equal(client.closeInfo, null, "still connected");
    assert.deepEqual(client.errors, []);
    await closeClient(client);
  });

  it("accepts a raw POST of exactly 100 bytes and rejects 101 with 413", async () => {
    const { sid } = await rawHandshake();
    const url = eio(`EIO=4&transport=polling&sid=${sid}`);
    assert.equal((await get(url)).body, "4hi");
    const exact = "4" + "€".repeat(33); // 100 bytes
    assert.equal(Buffer.byteLength(exact), 100);
    const ok = await post(url, exact);
    assert.equal(ok.status, 200);
    assert.equal(ok.body, "ok");
    assert.equal((await get(url)).body, exact);
    const over = "4" + "a".repeat(100); // 101 bytes
    const res = await post(url, over, { agent: false });
    assert.equal(res.status, 413);
    assert.equal(res.body, "");
  });

  it("closes a WebSocket with code 1009 upon a message over 100 bytes", async () => {
    const ws = await openWs(`${fx.wsUrl}/engine.io/?EIO=4&transport=websocket`);
    assert.match(await ws.waitForText(), /^0\{/);
    assert.equal(await ws.waitForText(), "4hi");
    ws.send("4" + "b".repeat(99)); // 100 bytes: fine
    assert.equal(await ws.waitForText({ skipPings: true }), "4" + "b".repeat(99));
    ws.send("4" + "b".repeat(100));
    const { code, reason } = await ws.waitForClose(5000);
    assert.equal(code, 1009);
    assert.equal(reason, "");
  });
});

// --- allowRequest --------------------------------------------------------------------------

describe("allowRequest", () => {
  for (const [name, opts] of TRANSPORTS) {
    it(`denies a handshake with ?deny=1 over ${name} (error event)`, async () => {
      const client = connect({ ...opts, query: { deny: 1 }, reconnection: false });
      await assert.rejects(client.opened);
      assert.ok(client.errors.length > 0, "error event");
      assert.equal(client.socket.readyState, "closed");
    });
  }

  it("answers a denied polling handshake with 403 code 4", async () => {
    for (const q of ["&deny=1", "&deny=", "&deny"]) {
      const res = await get(eio(`EIO=4&transport=polling${q}`));
      assert.equal(res.status, 403, q);
      assert.equal(res.headers["content-type"], "application/json");
      assert.equal(res.body, '{"code":4,"message":"Forbidden"}');
    }
  });

  it("refuses a denied WebSocket handshake", async () => {
    const probe = new WsProbe(`${fx.wsUrl}/engine.io/?EIO=4&transport=websocket&deny=1`);
    assert.equal(await probe.waitForOpen(), false);
    assert.notEqual(probe.status, 101);
    await probe.waitForClose(5000);
  });

  it("lets requests that carry a sid through", async () => {
    const { sid } = await rawHandshake();
    // `deny` only matters on handshake requests
    const res = await get(eio(`EIO=4&transport=polling&sid=${sid}&deny=1`));
    assert.equal(res.status, 200);
    assert.equal(res.body, "4hi");
  });
});

// --- headers and cookies ---------------------------------------------------------------------

describe("initial headers", () => {
  it("sends four Set-Cookie lines, in order, on the polling handshake", async () => {
    const before = Date.now();
    const { res, sid } = await rawHandshake();
    const cookies = rawHeaderValues(res, "set-cookie");
    assert.equal(cookies.length, 4, `Set-Cookie lines: ${JSON.stringify(cookies)}`);
    assert.equal(cookies[0], "1=1; Max-Age=86400");
    assert.equal(cookies[1], "2=2; Path=/; HttpOnly; Secure; SameSite=Strict");
    assert.equal(cookies[2], "3=3; Max-Age=0");
    const m = /^4=4; Expires=((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT)$/.exec(
      cookies[3],
    );
    assert.ok(m, `cookie 4: ${cookies[3]}`);
    const expires = Date.parse(m[1]);
    assert.ok(Math.abs(expires - before) < 60_000, `Expires ${m[1]} is about now`);

    // no other response carries them
    const url = eio(`EIO=4&transport=polling&sid=${sid}`);
    const poll = await get(url);
    assert.equal(poll.body, "4hi");
    assert.deepEqual(rawHeaderValues(poll, "set-cookie"), []);
    const postRes = await post(url, "4x");
    assert.deepEqual(rawHeaderValues(postRes, "set-cookie"), []);
    const err = await get(eio("EIO=4"));
    assert.deepEqual(rawHeaderValues(err, "set-cookie"), []);
  });

  it("lets the client's cookie jar send back 1=1; 2=2 (withCredentials)", async () => {
    const client = await connected({ transports: ["polling"], withCredentials: true });
    client.socket.send("sendHeaders");
    const headers = JSON.parse(await client.next());
    assert.equal(headers.cookie, "1=1; 2=2");
    await closeClient(client);
  });
});

describe("sendHeaders", () => {
  it("returns the headers of the polling POST that carried it (engine.io-client)", async () => {
    const client = await connected({ transports: ["polling"], extraHeaders: { "x-herald-test": "abc" } });
    client.socket.send("sendHeaders");
    const text = await client.next();
    const headers = JSON.parse(text);
    assert.equal(typeof headers, "object");
    for (const [k, v] of Object.entries(headers)) {
      assert.equal(k, k.toLowerCase(), `header name ${k} is lower-cased`);
      assert.equal(typeof v, "string", `header ${k} is a string`);
    }
    assert.equal(headers.host, `127.0.0.1:${fx.port}`);
    assert.equal(headers["x-herald-test"], "abc");
    assert.ok("content-type" in headers, "content-type of the POST");
    assert.equal(headers.cookie, undefined, "no cookie without withCredentials");
    await closeClient(client);
  });

  it("returns the raw POST's headers, in the order received", async () => {
    const { sid } = await rawHandshake();
    const url = eio(`EIO=4&transport=polling&sid=${sid}`);
    assert.equal((await get(url)).body, "4hi");
    const body = "4sendHeaders";
    assert.equal(
      (
        await post(url, body, {
          headers: { "X-First": "1", "Content-Type": "text/plain;charset=UTF-8", "X-Second": "two words" },
        })
      ).body,
      "ok",
    );
    const res = await get(url);
    assert.equal(res.status, 200);
    assert.equal(res.body[0], "4");
    const headers = JSON.parse(res.body.slice(1));
    assert.equal(headers["x-first"], "1");
    assert.equal(headers["x-second"], "two words");
    assert.equal(headers["content-type"], "text/plain;charset=UTF-8");
    assert.equal(headers["content-length"], String(Buffer.byteLength(body)));
    const keys = Object.keys(headers);
    assert.ok(keys.indexOf("x-first") < keys.indexOf("content-type"), `order: ${keys}`);
    assert.ok(keys.indexOf("content-type") < keys.indexOf("x-second"), `order: ${keys}`);
  });
});

// --- close ------------------------------------------------------------------------------

describe("close", () => {
  for (const [name, opts] of [...TRANSPORTS, ["upgraded websocket", {}]]) {
    it(`closes from the client over ${name}`, async () => {
      const client = await connected(opts);
      if (name === "upgraded websocket") await upgradedTo(client, "websocket");
      const sid = client.socket.id;
      assert.equal(typeof sid, "string");
      client.socket.close();
      const { reason } = await client.waitClose();
      assert.equal(reason, "forced close");
      await untilUnknownSid(sid);
    });
  }

  it("reports a server-side close to the client (polling)", async () => {
    const client = await connected({ transports: ["polling"] });
    const sid = client.socket.id;
    await sleep(50); // the client's long-poll GET is pending
    // an invalid packet on the client's session makes the server close it
    await post(eio(`EIO=4&transport=polling&sid=${sid}`), "zzz").catch(() => {});
    const { reason } = await client.waitClose();
    assert.equal(reason, "transport close");
    await untilUnknownSid(sid);
  });

  it("connects a new socket after a server-side close", async () => {
    const first = await connected({ transports: ["polling"] });
    await sleep(50);
    await post(eio(`EIO=4&transport=polling&sid=${first.socket.id}`), "zzz").catch(() => {});
    await first.waitClose();
    for (const opts of [{ transports: ["polling"] }, { transports: ["websocket"] }, {}]) {
      const next = await connected(opts);
      assert.notEqual(next.socket.id, first.socket.id);
      next.socket.send("again");
      assert.equal(await next.next(), "again");
      await closeClient(next);
    }
  });
});
