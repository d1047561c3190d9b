// The `sio-client` profile (FIXTURES.md §3) driven by the real
// `socket.io-client` package (Node build: XHR polling and `ws` WebSocket):
// namespaces and middlewares, every event of §3.2 over both transports,
// acknowledgements and their absence, multiplexing over one Manager,
// disconnect/reconnect, connection state recovery, large payloads, UTF-8 and
// binary. A last part checks the same profile with raw probes where the wire
// form itself is the contract (CONNECT reply with pid, offsets, exact
// CONNECT_ERROR packets, replay of missed packets).

import assert from "node:assert/strict";
import { inspect } from "node:util";
import { io, Manager } from "socket.io-client";
import { closeClients, conformance, get, openWs, sleep, startFixture } from "./support/fixture.mjs";
import {
  parseConnectReply,
  parseOpenPacket,
  ph,
  PollingSession,
  splitPacket,
  wsConnectNsp,
  wsNext,
} from "./support/sio.mjs";

const { describe, it, before, after } = conformance(import.meta.url);

const PING_INTERVAL = 2000;
const PING_TIMEOUT = 20000;
const MAX_PAYLOAD = 1_000_000;
const OPEN = { pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, maxPayload: MAX_PAYLOAD };
const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UTF8_STRINGS = [
  "\u3066\u3059\u3068",
  "\u042F \u0411 \u0413 \u0414 \u0416 \u0419",
  "\u00C4 \u00E4 \u00DC \u00FC \u00DF",
  "utf8 \u2014 string",
  "utf8 \u2014 string",
];
const HANDSHAKE_KEYS = ["headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth"];
const TRANSPORTS = [
  ["polling", ["polling"]],
  ["websocket", ["websocket"]],
];

let fx;
const sockets = new Set();

before(async () => {
  fx = await startFixture("sio-client");
});

after(async () => {
  for (const s of sockets) s.disconnect();
  closeClients();
  await fx?.stop();
});

// --- helpers -------------------------------------------------------------------

/**
 * Every event a socket receives, queued from its creation (onAny), so that
 * none is lost between awaits. Entries are {event, args}.
 */
class Events {
  constructor(socket) {
    this.queue = [];
    this.waiters = [];
    socket.onAny((event, ...args) => this.push({ event, args }));
  }

  push(entry) {
    const w = this.waiters.shift();
    if (w) w(entry);
    else this.queue.push(entry);
  }

  next(timeout = 5000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`no event within ${timeout} ms`));
      }, timeout);
      const done = (entry) => {
        clearTimeout(timer);
        resolve(entry);
      };
      this.waiters.push(done);
    });
  }

  /** The next event must be `event`; returns its arguments. */
  async expect(event, timeout = 5000) {
    const e = await this.next(timeout);
    assert.equal(e.event, event, `expected event ${event}, got ${e.event} ${inspect(e.args)}`);
    return e.args;
  }

  /** Like expect(), and the last argument must be an offset string; returns the other arguments and the offset. */
  async expectWithOffset(event, timeout = 5000) {
    const args = await this.expect(event, timeout);
    assert.ok(args.length >= 1, `${event}: an offset argument`);
    const offset = args[args.length - 1];
    assert.equal(typeof offset, "string", `${event}: last argument is the offset string, got ${inspect(args)}`);
    assert.ok(offset.length > 0);
    return { args: args.slice(0, -1), offset };
  }
}

/** Resolves with the event's arguments; rejects after `timeout`. */
function waitFor(emitter, event, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, on);
      reject(new Error(`no ${event} event within ${timeout} ms`));
    }, timeout);
    const on = (...args) => {
      clearTimeout(timer);
      resolve(args);
    };
    emitter.once(event, on);
  });
}

/** A socket.io-client socket on its own Manager, with recorded events. */
function client(nsp = "/", opts = {}) {
  const socket = io(`${fx.url}${nsp}`, {
    forceNew: true,
    reconnectionDelay: 100,
    reconnectionDelayMax: 300,
    ...opts,
  });
  sockets.add(socket);
  socket.events = new Events(socket);
  return socket;
}

/** Resolves once connected; rejects on connect_error (with its message). */
function connectedOf(socket, timeout = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`not connected within ${timeout} ms`)), timeout);
    const onConnect = () => done(null);
    const onError = (err) => done(new Error(`connect_error: ${err.message}`));
    function done(err) {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
      if (err) reject(err);
      else resolve(socket);
    }
    if (socket.connected) return done(null);
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

const connect = (nsp, opts) => connectedOf(client(nsp, opts));

/** The connect_error of a socket that must not connect. */
function connectError(socket, timeout = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no connect_error within ${timeout} ms`)), timeout);
    const onConnect = () => done(new Error("connected, expected a connect_error"));
    const onError = (err) => done(null, err);
    function done(failure, err) {
      clearTimeout(timer);
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
      if (failure) return reject(failure);
      if (!(err instanceof Error)) return reject(new Error(`connect_error with a non-Error ${inspect(err)}`));
      resolve(err);
    }
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
}

/** Proves that nothing came before: the next event must be the reply to this `hi`. */
async function sync(socket) {
  socket.emit("hi");
  await socket.events.expectWithOffset("hi");
}

const ack = (socket, ...args) => socket.timeout(10_000).emitWithAck(...args);

function assertBinary(value, bytes, what = "value") {
  assert.ok(Buffer.isBuffer(value), `${what} is a Buffer, got ${inspect(value)}`);
  assert.deepEqual([...value], [...Buffer.from(bytes)], `${what} bytes`);
}

async function waitUntil(predicate, what, timeout = 5000) {
  const deadline = Date.now() + timeout;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`${what} within ${timeout} ms`);
    await sleep(20);
  }
}

/** The query of a request target, decoded the URLSearchParams way (last value wins). */
const queryOfUrl = (url) => Object.fromEntries(new URL(url, "http://fixture.invalid").searchParams);

function assertHandshake(h, { transport, auth, query }) {
  assert.equal(typeof h, "object");
  assert.ok(h.query && typeof h.query === "object" && !Array.isArray(h.query), "query is an object");
  assert.ok(h.auth && typeof h.auth === "object" && !Array.isArray(h.auth), "auth is an object");
  assert.equal(h.query.EIO, "4");
  assert.equal(h.query.transport, transport);
  if (typeof h.url === "string") assert.deepEqual(h.query, queryOfUrl(h.url), "query is the decoded query of url");
  for (const [k, v] of Object.entries(query ?? {})) assert.equal(h.query[k], v, `query[${JSON.stringify(k)}]`);
  assert.deepEqual(h.auth, auth);
}

// --- connection ------------------------------------------------------------------

describe("connection", () => {
  for (const [name, transports] of TRANSPORTS) {
    it(`connects to / over ${name} only`, async () => {
      const socket = await connect("/", { transports });
      assert.equal(socket.io.engine.transport.name, name);
      assert.equal(typeof socket.id, "string");
      assert.ok(socket.id.length > 0);
      assert.notEqual(socket.id, socket.io.engine.id, "the socket id is not the Engine.IO sid");
      assert.equal(socket.recovered, false);
      assert.equal(await ack(socket, "echo", "ok"), "ok");
      socket.disconnect();
    });
  }

  it("connects to / and upgrades to websocket by default", async () => {
    const socket = client("/");
    const engine = socket.io.engine;
    assert.equal(engine.transport.name, "polling");
    await connectedOf(socket);
    await waitUntil(() => engine.transport.name === "websocket", "upgraded to websocket");
    assert.equal(await ack(socket, "echo", "after upgrade"), "after upgrade");
    await sync(socket);
    socket.disconnect();
  });

  it("rejects / when the handshake query has `fail`", async () => {
    const socket = client("/", { query: { fail: "true" } });
    const err = await connectError(socket);
    assert.equal(err.message, "Auth failed (main namespace)");
    assert.equal(err.data, undefined, "no data");
    assert.equal(socket.connected, false);
    socket.disconnect();
  });

  it("accepts / when `fail` is empty, and other namespaces whatever `fail` is", async () => {
    const empty = await connect("/", { query: { fail: "" } });
    empty.disconnect();
    const foo = await connect("/foo", { query: { fail: "1" } });
    assert.equal(await ack(foo, "getId"), foo.id);
    foo.disconnect();
  });

  it("rejects /no with its middleware error", async () => {
    const socket = client("/no");
    const err = await connectError(socket);
    assert.equal(err.message, "Auth failed (custom namespace)");
    assert.equal(err.data, undefined);
    socket.disconnect();
  });

  it("rejects unknown namespaces with Invalid namespace", async () => {
    for (const nsp of ["/invalid", "/timeout", "/bar"]) {
      const socket = client(nsp);
      const err = await connectError(socket);
      assert.equal(err.message, "Invalid namespace", nsp);
      socket.disconnect();
    }
  });

  it("connects to the empty namespaces /timeout_socket, /valid and /asd", async () => {
    for (const nsp of ["/timeout_socket", "/valid", "/asd"]) {
      const socket = await connect(nsp);
      // no handlers there: an ack never comes
      await assert.rejects(socket.timeout(200).emitWithAck("getId"), /operation has timed out/);
      socket.disconnect();
    }
  });

  it("answers getId on /foo with the socket id", async () => {
    const socket = await connect("/foo");
    const id = await ack(socket, "getId");
    assert.equal(id, socket.id);
    assert.notEqual(id, socket.io.engine.id);
    socket.disconnect();
  });

  for (const [name, transports] of TRANSPORTS) {
    it(`emits handshake on /abc with the query and auth (${name})`, async () => {
      const query = { "&a": "&=?a", "é": "ü ö", plus: "1+1", empty: "", n: "42" };
      const socket = client("/abc", { transports, query, auth: { token: "abc", n: 1 } });
      await connectedOf(socket);
      const { args } = await socket.events.expectWithOffset("handshake");
      assert.equal(args.length, 1);
      assertHandshake(args[0], { transport: name, auth: { token: "abc", n: 1 }, query });
      socket.disconnect();
    });
  }

  it("gives each socket its own id", async () => {
    const a = await connect("/");
    const b = await connect("/");
    assert.notEqual(a.id, b.id);
    a.disconnect();
    b.disconnect();
  });
});

// --- events of / -------------------------------------------------------------------

for (const [name, transports] of TRANSPORTS) {
  describe(`events over ${name}`, () => {
    const connectMain = (opts) => connect("/", { transports, ...opts });

    it("hi → hi", async () => {
      const socket = await connectMain();
      socket.emit("hi");
      const { args } = await socket.events.expectWithOffset("hi");
      assert.deepEqual(args, []);
      socket.disconnect();
    });

    it("echo acks its argument unchanged", async () => {
      const socket = await connectMain();
      const values = [123, null, "str", "", 0, -1.5, false, true, { a: 1, b: [true, null, { c: "d" }] }, [1, [2, [3]]], {}];
      for (const v of values) assert.deepEqual(await ack(socket, "echo", v), v, inspect(v));
      socket.disconnect();
    });

    it("acks carry no offset", async () => {
      const socket = await connectMain();
      const args = await new Promise((resolve) => socket.emit("echo", { x: 1 }, (...a) => resolve(a)));
      assert.deepEqual(args, [{ x: 1 }]);
      socket.disconnect();
    });

    it("ack: the server asks for an ack and answers a good one with got it", async () => {
      const socket = await connectMain();
      socket.emit("ack");
      const args = await socket.events.expect("ack");
      assert.equal(args.length, 1, "only the ack callback: an emit with an ack id carries no offset");
      assert.equal(typeof args[0], "function");
      args[0](5, { test: true });
      const { args: gotIt } = await socket.events.expectWithOffset("got it");
      assert.deepEqual(gotIt, []);
      socket.disconnect();
    });

    it("ack: a wrong answer gets nothing, and the client's own ack id is never answered", async () => {
      const socket = await connectMain();
      let acked = false;
      socket.emit("ack", () => {
        acked = true;
      });
      const [cb1] = await socket.events.expect("ack");
      cb1(4, { test: true });
      socket.emit("ack");
      const [cb2] = await socket.events.expect("ack");
      cb2(5, { test: false });
      await sync(socket);
      assert.equal(acked, false, "the ack event is never acknowledged");
      socket.disconnect();
    });

    it("getAckDate acks the current time as an ISO string", async () => {
      const socket = await connectMain();
      const before = Date.now();
      const date = await ack(socket, "getAckDate", { test: true });
      assert.equal(typeof date, "string");
      assert.match(date, ISO_DATE);
      const t = Date.parse(date);
      assert.ok(t >= before - 5000 && t <= Date.now() + 5000, `${date} is about now`);
      socket.disconnect();
    });

    it("getDate → takeDate, getDateObj → takeDateObj", async () => {
      const socket = await connectMain();
      socket.emit("getDate");
      const { args } = await socket.events.expectWithOffset("takeDate");
      assert.equal(args.length, 1);
      assert.match(args[0], ISO_DATE);
      socket.emit("getDateObj");
      const { args: objArgs } = await socket.events.expectWithOffset("takeDateObj");
      assert.equal(objArgs.length, 1);
      assert.deepEqual(Object.keys(objArgs[0]), ["date"]);
      assert.match(objArgs[0].date, ISO_DATE);
      socket.disconnect();
    });

    it("getUtf8 → five takeUtf8, in order", async () => {
      const socket = await connectMain();
      socket.emit("getUtf8");
      for (const expected of UTF8_STRINGS) {
        const { args } = await socket.events.expectWithOffset("takeUtf8");
        assert.deepEqual(args, [expected]);
      }
      await sync(socket);
      socket.disconnect();
    });

    it("false → false", async () => {
      const socket = await connectMain();
      socket.emit("false");
      const { args } = await socket.events.expectWithOffset("false");
      assert.deepEqual(args, [false]);
      socket.disconnect();
    });

    it("doge and getbin send the bytes of asdfasdf", async () => {
      const socket = await connectMain();
      socket.emit("doge");
      const { args } = await socket.events.expectWithOffset("doge");
      assert.equal(args.length, 1);
      assertBinary(args[0], "asdfasdf", "doge");
      socket.emit("getbin");
      const { args: bin } = await socket.events.expectWithOffset("takebin");
      assert.equal(bin.length, 1);
      assertBinary(bin[0], "asdfasdf", "takebin");
      socket.disconnect();
    });

    it("buffa → buffack for a Buffer, nothing for a string", async () => {
      const socket = await connectMain();
      socket.emit("buffa", "not binary");
      socket.emit("buffa", Buffer.from("asdfasdf"));
      const { args } = await socket.events.expectWithOffset("buffack");
      assert.deepEqual(args, []);
      await sync(socket);
      socket.disconnect();
    });

    it("jsonbuff → jsonbuff-ack for the right object only", async () => {
      const socket = await connectMain();
      socket.emit("jsonbuff", { hello: "lol", message: "not binary", goodbye: "gotcha" });
      socket.emit("jsonbuff", { hello: "lol", message: Buffer.from("look im binary"), goodbye: "gotcha" });
      await socket.events.expectWithOffset("jsonbuff-ack");
      await sync(socket);
      socket.disconnect();
    });

    it("abuff1 then abuff2 → abuff2-ack; abuff2 alone → nothing", async () => {
      const socket = await connectMain();
      socket.emit("abuff2");
      await sync(socket);
      socket.emit("abuff1", Buffer.from("abuff1"));
      socket.emit("abuff2", Buffer.from("abuff2"));
      await socket.events.expectWithOffset("abuff2-ack");
      socket.disconnect();
    });

    it("blob, jsonblob and blob1..3", async () => {
      const socket = await connectMain();
      socket.emit("blob", Buffer.from([1, 2, 3]));
      await socket.events.expectWithOffset("back");
      socket.emit("jsonblob", { hello: "lol", message: Buffer.from([4]), goodbye: "gotcha" });
      await socket.events.expectWithOffset("jsonblob-ack");
      socket.emit("blob3", Buffer.from([3])); // too early: nothing
      socket.emit("blob1", Buffer.from([1]));
      socket.emit("blob2", "second");
      socket.emit("blob3", Buffer.from([3]));
      await socket.events.expectWithOffset("blob3-ack");
      await sync(socket);
      socket.disconnect();
    });

    it("getHandshake acks the handshake object", async () => {
      const socket = await connectMain({ query: { q: "v" }, auth: { token: "t" } });
      const h = await ack(socket, "getHandshake");
      assertHandshake(h, { transport: name, auth: { token: "t" }, query: { q: "v" } });
      assert.equal(h.address, "127.0.0.1");
      assert.equal(h.secure, false);
      assert.equal(typeof h.issued, "number");
      assert.ok(Math.abs(h.issued - Date.now()) < 60_000, "issued is about now");
      assert.equal(typeof h.time, "string");
      assert.ok(Math.abs(Date.parse(h.time) - h.issued) < 2000, `time ${h.time} matches issued`);
      assert.match(h.url, /^\/socket\.io\/\?/);
      assert.equal(typeof h.headers, "object");
      assert.equal(h.headers.host, `127.0.0.1:${fx.port}`);
      for (const k of Object.keys(h.headers)) assert.equal(k, k.toLowerCase(), "header names in lower case");
      socket.disconnect();
    });

    it("getHandshake lists the handshake keys in the reference order", async () => {
      const socket = await connectMain();
      const h = await ack(socket, "getHandshake");
      assert.deepEqual(Object.keys(h), HANDSHAKE_KEYS);
      socket.disconnect();
    });

    it("getId acks the socket id", async () => {
      const socket = await connectMain();
      assert.equal(await ack(socket, "getId"), socket.id);
      socket.disconnect();
    });

    it("never acks unknown events, nor events whose handler does not ack", async () => {
      const socket = await connectMain();
      const timedOut = (event, ...args) =>
        new Promise((resolve) => socket.timeout(200).emit(event, ...args, (err, ...rest) => resolve({ err, rest })));
      for (const [event, ...args] of [["unknown"], ["event", 1], ["my-event", { a: 1 }], ["hi"], ["false"], ["abuff1", Buffer.from([1])]]) {
        const { err, rest } = await timedOut(event, ...args);
        assert.ok(err instanceof Error, `${event}: timed out`);
        assert.match(err.message, /operation has timed out/);
        assert.deepEqual(rest, []);
      }
      // the hi and false replies came, nothing else
      await socket.events.expectWithOffset("hi");
      await socket.events.expectWithOffset("false");
      await sync(socket);
      socket.disconnect();
    });

    it("sends nothing unprompted", async () => {
      const socket = await connectMain();
      await sleep(500);
      assert.deepEqual(socket.events.queue, []);
      socket.disconnect();
    });

    it("gives every emit its own offset", async () => {
      const socket = await connectMain();
      const offsets = [];
      for (let i = 0; i < 5; i++) {
        socket.emit("hi");
        offsets.push((await socket.events.expectWithOffset("hi")).offset);
      }
      socket.emit("getUtf8");
      for (let i = 0; i < 5; i++) offsets.push((await socket.events.expectWithOffset("takeUtf8")).offset);
      assert.equal(new Set(offsets).size, offsets.length, `distinct offsets ${inspect(offsets)}`);
      socket.disconnect();
    });

    it("echoes UTF-8 both ways", async () => {
      const socket = await connectMain();
      for (const s of [...UTF8_STRINGS, "пойду спать всем спокойной ночи", "😀 🎉 \u{10FFFF}", "€ \u2028 \u2029 \u0000 \u001f"]) {
        assert.equal(await ack(socket, "echo", s), s);
      }
      assert.deepEqual(await ack(socket, "echo", { "ключ": "значение", "キー": ["値"] }), { "ключ": "значение", "キー": ["値"] });
      socket.disconnect();
    });

    it("echoes binary both ways, nested and in order", async () => {
      const socket = await connectMain();
      const value = {
        a: Buffer.from([1, 2, 3]),
        s: "x",
        b: [Buffer.from("second"), { c: Buffer.from([0xff, 0x00]), n: null }],
        d: { e: [Buffer.alloc(0), Buffer.from("last")] },
      };
      const back = await ack(socket, "echo", value);
      assert.deepEqual(back, value);
      assert.deepEqual(Object.keys(back), ["a", "s", "b", "d"], "key order kept");
      // a single Buffer, an array of Buffers
      assertBinary(await ack(socket, "echo", Buffer.from("asdfasdf")), "asdfasdf");
      const arr = await ack(socket, "echo", [Buffer.from([1]), Buffer.from([2]), Buffer.from([3])]);
      assert.deepEqual(arr.map((b) => [...b]), [[1], [2], [3]]);
      socket.disconnect();
    });

    it("echoes a string near maxPayload (~900 KB)", async () => {
      const socket = await connectMain();
      const big = "x".repeat(450_000) + "é".repeat(225_000); // 900 000 bytes of UTF-8
      assert.equal(Buffer.byteLength(big), 900_000);
      const back = await socket.timeout(20_000).emitWithAck("echo", big);
      assert.equal(back.length, big.length);
      assert.ok(back === big, "same string");
      await sync(socket);
      socket.disconnect();
    });

    it("echoes a large Buffer (~600 KB)", async () => {
      const socket = await connectMain();
      const big = Buffer.alloc(600_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      const back = await socket.timeout(20_000).emitWithAck("echo", big);
      assert.ok(Buffer.isBuffer(back));
      assert.ok(back.equals(big), "same bytes");
      socket.disconnect();
    });
  });
}

// --- multiplexing ------------------------------------------------------------------

describe("multiplexing", () => {
  it("carries many namespace sockets over one Manager", async () => {
    const manager = new Manager(fx.url, { reconnectionDelay: 100, reconnectionDelayMax: 300 });
    const names = ["/", "/foo", "/abc", "/valid", "/asd", "/timeout_socket"];
    const socks = {};
    for (const n of names) {
      const s = manager.socket(n, n === "/abc" ? { auth: { token: "abc" } } : {});
      sockets.add(s);
      s.events = new Events(s);
      socks[n] = s;
    }
    await Promise.all(names.map((n) => connectedOf(socks[n])));
    const engineId = manager.engine.id;
    const ids = names.map((n) => socks[n].id);
    assert.equal(new Set(ids).size, names.length, "distinct socket ids");
    assert.ok(!ids.includes(engineId), "no socket id is the Engine.IO sid");

    assert.equal(await ack(socks["/foo"], "getId"), socks["/foo"].id);
    const { args } = await socks["/abc"].events.expectWithOffset("handshake");
    assert.deepEqual(args[0].auth, { token: "abc" });
    await sync(socks["/"]);

    // rejected namespaces on the same Manager leave the others alone
    const bad = manager.socket("/bar");
    const no = manager.socket("/no");
    sockets.add(bad);
    sockets.add(no);
    const [badErr, noErr] = await Promise.all([connectError(bad), connectError(no)]);
    assert.equal(badErr.message, "Invalid namespace");
    assert.equal(noErr.message, "Auth failed (custom namespace)");
    assert.equal(await ack(socks["/"], "echo", "still here"), "still here");
    assert.equal(manager.engine.id, engineId, "same Engine.IO connection");

    // one socket leaves and comes back, with a new id, on the same connection
    const fooId = socks["/foo"].id;
    socks["/foo"].disconnect();
    assert.equal(await ack(socks["/"], "echo", 1), 1);
    socks["/foo"].connect();
    await connectedOf(socks["/foo"]);
    assert.notEqual(socks["/foo"].id, fooId);
    assert.equal(await ack(socks["/foo"], "getId"), socks["/foo"].id);
    assert.equal(manager.engine.id, engineId, "same Engine.IO connection");
    for (const n of names) assert.equal(socks[n].connected, true, `${n} connected`);
    for (const s of [...Object.values(socks), bad, no]) s.disconnect();
  });

  it("routes acks of interleaved emits on several namespaces", async () => {
    const manager = new Manager(fx.url, { transports: ["websocket"] });
    const main = manager.socket("/");
    const foo = manager.socket("/foo");
    sockets.add(main);
    sockets.add(foo);
    await Promise.all([connectedOf(main), connectedOf(foo)]);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? ack(foo, "getId") : ack(main, "echo", i))),
    );
    results.forEach((r, i) => assert.equal(r, i % 2 ? foo.id : i));
    main.disconnect();
    foo.disconnect();
  });
});

// --- disconnect / reconnect ----------------------------------------------------------

describe("disconnect and reconnect", () => {
  for (const [name, transports] of TRANSPORTS) {
    it(`disconnects and connects again with a new id (${name})`, async () => {
      const socket = await connect("/", { transports });
      const id = socket.id;
      socket.emit("hi");
      await socket.events.expectWithOffset("hi");
      const disconnected = waitFor(socket, "disconnect");
      socket.disconnect();
      const [reason] = await disconnected;
      assert.equal(reason, "io client disconnect");
      assert.equal(socket.connected, false);
      socket.connect();
      await connectedOf(socket);
      assert.notEqual(socket.id, id, "a client namespace disconnect is not recovered");
      assert.equal(socket.recovered, false);
      assert.equal(await ack(socket, "echo", "again"), "again");
      await sync(socket);
      socket.disconnect();
    });
  }
});

// --- connection state recovery -------------------------------------------------------

describe("connection state recovery", () => {
  // a reconnection delay well above the time the server needs to notice the drop
  const RECOVERY_OPTS = { reconnectionDelay: 300, reconnectionDelayMax: 300, randomizationFactor: 0 };

  for (const [name, transports] of TRANSPORTS) {
    it(`recovers the socket after the transport drops, with the missed events (${name})`, async () => {
      const socket = await connect("/", { transports, ...RECOVERY_OPTS });
      const id = socket.id;
      assert.equal(socket.recovered, false);
      socket.emit("hi");
      const { offset: first } = await socket.events.expectWithOffset("hi");

      // three more emits, then the transport goes. Over WebSocket the client
      // drops the connection before the replies come; over polling some may
      // still arrive on the pending GET. Either way each reply must be
      // delivered exactly once, in order: before the drop, or replayed.
      socket.on("disconnect", () => socket.events.push({ event: "(disconnect)", args: [] }));
      const disconnected = waitFor(socket, "disconnect");
      socket.emit("hi");
      socket.emit("false");
      socket.emit("hi");
      socket.io.engine.close();
      await disconnected;
      await connectedOf(socket, 15_000);
      assert.equal(socket.recovered, true, "recovered");
      assert.equal(socket.id, id, "same socket id");

      const seen = [];
      while (seen.filter((e) => e.event !== "(disconnect)").length < 3) seen.push(await socket.events.next());
      const cut = seen.findIndex((e) => e.event === "(disconnect)");
      if (cut === -1) {
        // the disconnect marker may still be queued after the events
        assert.equal((await socket.events.next()).event, "(disconnect)");
      }
      const events = seen.filter((e) => e.event !== "(disconnect)");
      assert.deepEqual(events.map((e) => e.event), ["hi", "false", "hi"], "each missed event once, in order");
      const before = cut === -1 ? events : seen.slice(0, cut);
      if (name === "websocket") assert.deepEqual(before, [], "all three were missed and replayed");
      assert.deepEqual(events[1].args.slice(0, -1), [false]);
      const offsets = [first, ...events.map((e) => e.args[e.args.length - 1])];
      assert.equal(new Set(offsets).size, 4, `distinct offsets ${inspect(offsets)}`);

      // the recovered socket works; its CONNECT carried pid and the last offset received
      const h = await ack(socket, "getHandshake");
      assert.equal(typeof h.auth.pid, "string");
      const last = before.length ? before[before.length - 1].args.at(-1) : first;
      assert.equal(h.auth.offset, last);
      await sync(socket);
      socket.disconnect();
    });
  }

  it("recovers again after a second drop", async () => {
    const socket = await connect("/", { transports: ["websocket"], ...RECOVERY_OPTS });
    const id = socket.id;
    for (let round = 0; round < 2; round++) {
      socket.emit("hi");
      await socket.events.expectWithOffset("hi");
      const disconnected = waitFor(socket, "disconnect");
      socket.io.engine.close();
      await disconnected;
      await connectedOf(socket, 15_000);
      assert.equal(socket.recovered, true, `round ${round}: recovered`);
      assert.equal(socket.id, id, `round ${round}: same id`);
    }
    await sync(socket);
    socket.disconnect();
  });

  it("does not recover a socket that never received an offset", async () => {
    const socket = await connect("/", { transports: ["websocket"], ...RECOVERY_OPTS });
    const id = socket.id;
    const disconnected = waitFor(socket, "disconnect");
    socket.io.engine.close();
    await disconnected;
    await connectedOf(socket, 15_000);
    assert.equal(socket.recovered, false);
    assert.notEqual(socket.id, id, "a new socket");
    await sync(socket);
    socket.disconnect();
  });

  it("recovers the sockets of several namespaces of one Manager", async () => {
    const manager = new Manager(fx.url, { transports: ["websocket"], ...RECOVERY_OPTS });
    const main = manager.socket("/");
    const foo = manager.socket("/foo");
    for (const s of [main, foo]) {
      sockets.add(s);
      s.events = new Events(s);
    }
    await Promise.all([connectedOf(main), connectedOf(foo)]);
    const mainId = main.id;
    main.emit("hi");
    await main.events.expectWithOffset("hi");
    // /foo never received an offset: it comes back as a new socket
    const fooId = foo.id;
    const both = Promise.all([waitFor(main, "disconnect"), waitFor(foo, "disconnect")]);
    manager.engine.close();
    await both;
    await Promise.all([connectedOf(main, 15_000), connectedOf(foo, 15_000)]);
    assert.equal(main.recovered, true);
    assert.equal(main.id, mainId);
    assert.equal(foo.recovered, false);
    assert.notEqual(foo.id, fooId);
    assert.equal(await ack(foo, "getId"), foo.id);
    main.disconnect();
    foo.disconnect();
  });
});

// --- raw probes of the profile -------------------------------------------------------

describe("wire", () => {
  let endpoint;
  before(() => {
    endpoint = `${fx.url}/socket.io/`;
  });

  const wsUrl = (query = "") => `${fx.wsUrl}/socket.io/?EIO=4&transport=websocket${query ? `&${query}` : ""}`;

  async function wsSession(query) {
    const ws = await openWs(wsUrl(query));
    const open = parseOpenPacket(await ws.waitForText(), { ...OPEN, upgrades: [] });
    ws.engineSid = open.sid;
    return ws.enableAutoPong();
  }

  /** WebSocket session joined to `/`; returns {ws, sid, pid}. */
  async function joined(auth) {
    const ws = await wsSession();
    const { sid, pid } = await wsConnectNsp(ws, "/", { auth, keys: ["sid", "pid"] });
    return { ws, sid, pid };
  }

  /** Sends `hi` and returns the offset of the reply `42["hi","<offset>"]`. */
  async function hi(ws) {
    ws.send('42["hi"]');
    const p = splitPacket(await wsNext(ws));
    assert.equal(p.type, 2);
    assert.equal(p.id, undefined);
    assert.equal(p.data.length, 2);
    assert.equal(p.data[0], "hi");
    assert.equal(typeof p.data[1], "string");
    return p.data[1];
  }

  /**
   * Opens a new connection and CONNECTs `/` with `auth`; collects the CONNECT
   * reply and `replays` more frames. Returns {reply, frames}.
   */
  async function reconnectWith(auth, replays = 0) {
    const ws = await wsSession();
    ws.send(`40${JSON.stringify(auth)}`);
    const frames = [];
    let reply;
    while (!reply || frames.length < replays) {
      const f = await wsNext(ws);
      if (f.startsWith("40")) reply = parseConnectReply(f, "/", ["sid", "pid"]);
      else frames.push(f);
    }
    return { ws, reply, frames };
  }

  it("answers CONNECT with sid and pid, both fresh", async () => {
    const ws = await wsSession();
    const main = await wsConnectNsp(ws, "/", { keys: ["sid", "pid"] });
    const foo = await wsConnectNsp(ws, "/foo", { keys: ["sid", "pid"] });
    const all = [ws.engineSid, main.sid, main.pid, foo.sid, foo.pid];
    assert.equal(new Set(all).size, all.length, `distinct ids ${inspect(all)}`);
    ws.close();
  });

  it("appends an offset to emits without ack id, and none to acks or emits with an ack id", async () => {
    const { ws } = await joined();
    await hi(ws);
    ws.send('427["echo",123]');
    assert.equal(await wsNext(ws), "437[123]");
    ws.send('420["echo",null]');
    assert.equal(await wsNext(ws), "430[null]");
    ws.send('421["echo",{"b":1,"a":[1.5,"é"]}]');
    assert.equal(await wsNext(ws), '431[{"b":1,"a":[1.5,"é"]}]');
    ws.send('42["false"]');
    const f = splitPacket(await wsNext(ws));
    assert.deepEqual(f.data.slice(0, 2), ["false", false]);
    assert.equal(f.data.length, 3);
    // the server's `ack` carries an ack id and no offset
    ws.send('423["ack"]');
    const req = splitPacket(await wsNext(ws));
    assert.equal(req.type, 2);
    assert.equal(typeof req.id, "number", "an ack id");
    assert.deepEqual(req.data, ["ack"]);
    ws.send(`43${req.id}[5,{"test":true}]`);
    const gotIt = splitPacket(await wsNext(ws));
    assert.equal(gotIt.data[0], "got it");
    assert.equal(gotIt.data.length, 2);
    // the client's ack id 3 was never answered
    await hi(ws);
    ws.close();
  });

  it("sends doge as a BINARY_EVENT with the offset after the placeholder", async () => {
    const { ws } = await joined();
    ws.send('42["doge"]');
    const header = await wsNext(ws);
    assert.match(header, new RegExp(`^451-\\["doge",${ph(0).replace(/[{}]/g, "\\$&")},"[^"]+"\\]$`));
    const bin = await ws.waitFor({ skipPings: true });
    assert.equal(bin.binary, true);
    assert.equal(bin.data.toString("latin1"), "asdfasdf");
    ws.close();
  });

  it("sends the takeUtf8 strings as raw UTF-8", async () => {
    const { ws } = await joined();
    ws.send('42["getUtf8"]');
    for (const s of UTF8_STRINGS) {
      const frame = await wsNext(ws);
      assert.ok(frame.startsWith(`42["takeUtf8",${JSON.stringify(s)},"`), JSON.stringify(frame));
      assert.ok(!frame.includes("\\u"), "no \\u escapes");
    }
    ws.close();
  });

  it("sends exact CONNECT_ERROR packets and keeps the connection", async () => {
    const ws = await wsSession("fail=1");
    ws.send("40");
    assert.equal(await wsNext(ws), '44{"message":"Auth failed (main namespace)"}');
    ws.send("40/no,");
    assert.equal(await wsNext(ws), '44/no,{"message":"Auth failed (custom namespace)"}');
    ws.send("40/invalid,");
    assert.equal(await wsNext(ws), '44/invalid,{"message":"Invalid namespace"}');
    ws.send("40/timeout");
    assert.equal(await wsNext(ws), '44/timeout,{"message":"Invalid namespace"}');
    // / 's middleware applies to / only
    const foo = await wsConnectNsp(ws, "/foo", { keys: ["sid", "pid"] });
    ws.send('42/foo,5["getId"]');
    assert.equal(await wsNext(ws), `43/foo,5["${foo.sid}"]`);
    ws.close();
  });

  it("reads `fail` from the Engine.IO handshake request only", async () => {
    // over polling, the handshake GET carries it
    const s = await PollingSession.open(endpoint, { query: "fail=x" });
    await s.send("40");
    assert.deepEqual(await s.take(1), ['44{"message":"Auth failed (main namespace)"}']);
    // not in the CONNECT payload
    const ok = await PollingSession.open(endpoint);
    await ok.send('40{"fail":"1"}');
    const [reply] = await ok.take(1);
    parseConnectReply(reply, "/", ["sid", "pid"]);
  });

  it("decodes the handshake query the URLSearchParams way", async () => {
    const s = await PollingSession.open(endpoint, { query: "x=a+b&k=1&k=2&%26a=%26%3D%3Fa&e=%C3%A9&empty=" });
    await s.send('40/abc,{"tok":1}');
    const [reply, ev] = await s.take(2);
    parseConnectReply(reply, "/abc", ["sid", "pid"]);
    const p = splitPacket(ev);
    assert.equal(p.nsp, "/abc");
    assert.equal(p.data[0], "handshake");
    assert.equal(p.data.length, 3, "handshake object and offset");
    const h = p.data[1];
    assert.equal(h.query.x, "a b", "+ is a space");
    assert.equal(h.query.k, "2", "the last value wins");
    assert.equal(h.query["&a"], "&=?a");
    assert.equal(h.query.e, "é");
    assert.equal(h.query.empty, "");
    assert.equal(h.query.EIO, "4");
    assert.equal(h.query.transport, "polling");
    assert.deepEqual(h.auth, { tok: 1 });
  });

  it("delays handshake requests by about 10 ms", async () => {
    for (let i = 0; i < 3; i++) {
      const since = process.hrtime.bigint();
      const res = await get(`${endpoint}?EIO=4&transport=polling`);
      const ms = Number(process.hrtime.bigint() - since) / 1e6;
      assert.equal(res.status, 200);
      assert.ok(ms >= 8, `handshake answered after ${ms.toFixed(1)} ms`);
    }
  });

  it("replays the packets missed after the offset, with the old socket id", async () => {
    const a = await joined();
    const first = await hi(a.ws);
    a.ws.send('42["hi"]');
    a.ws.send('42["false"]');
    const missed = [await wsNext(a.ws), await wsNext(a.ws)];
    a.ws.terminate();
    await a.ws.waitForClose();
    // retry until the server has noticed the drop and kept the session
    let got;
    for (let attempt = 0; attempt < 20; attempt++) {
      await sleep(100);
      const b = await reconnectWith({ pid: a.pid, offset: first });
      if (b.reply.sid === a.sid) {
        got = b;
        break;
      }
      b.ws.close();
    }
    assert.ok(got, "the session was restored");
    assert.equal(got.reply.pid, a.pid, "same pid");
    while (got.frames.length < 2) got.frames.push(await wsNext(got.ws));
    assert.deepEqual(got.frames, missed, "the missed packets, in order, byte for byte");
    // the restored socket is the old one, and the auth carried pid and offset
    got.ws.send('421["getHandshake"]');
    const h = splitPacket(await wsNext(got.ws));
    assert.equal(h.id, 1);
    assert.deepEqual(h.data[0].auth, { pid: a.pid, offset: first });
    got.ws.send('422["getId"]');
    assert.equal(await wsNext(got.ws), `432["${a.sid}"]`);
    got.ws.close();
  });

  it("does not restore without a stored session or with a bad pid or offset", async () => {
    const a = await joined();
    const first = await hi(a.ws);
    // the session of a socket that is still connected is not stored
    let r = await reconnectWith({ pid: a.pid, offset: first });
    assert.notEqual(r.reply.sid, a.sid);
    assert.notEqual(r.reply.pid, a.pid);
    r.ws.close();
    a.ws.terminate();
    await a.ws.waitForClose();
    await sleep(300);
    for (const auth of [
      { pid: "unknown", offset: first },
      { pid: a.pid }, // no offset: never restored
      { pid: a.pid, offset: "unknown" },
      { pid: a.pid, offset: 1 },
      { offset: first },
    ]) {
      r = await reconnectWith(auth);
      assert.notEqual(r.reply.sid, a.sid, `not restored with ${JSON.stringify(auth)}`);
      assert.notEqual(r.reply.pid, a.pid);
      r.ws.close();
    }
    // the session was there all along: the right pid and offset restore it
    r = await reconnectWith({ pid: a.pid, offset: first });
    assert.equal(r.reply.sid, a.sid, "restored with the right pid and offset");
    r.ws.close();
  });

  it("does not keep the session of a client namespace disconnect", async () => {
    const a = await joined();
    const first = await hi(a.ws);
    a.ws.send("41");
    await sleep(300);
    const r = await reconnectWith({ pid: a.pid, offset: first });
    assert.notEqual(r.reply.sid, a.sid);
    r.ws.close();
    a.ws.close();
  });
});
