// Reliable delivery to user rooms, driven with the real `herald` binary and
// socket.io-client: stored until acked, one `batch` on (re)connect, resync on an
// out-of-order ack and past a cap, ttl expiry, several tabs of one user, API errors.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startHerald, sleep, until } from "./support.mjs";

const KEY = "reliable-api-key-0123456789abcdef";
const SECRET = "a-reliable-test-secret-long-enough-0123456789";

const site = (name, namespace, reliable) => `
[[sites]]
name = "${name}"
namespace = "${namespace}"
api_keys = ["${KEY}"]
user_room_prefix = "user:"
[sites.auth]
mode = "jwt"
secret = "${SECRET}"
${reliable === null ? "" : `[sites.reliable]\n${reliable}`}
`;

describe("herald reliable delivery", () => {
  let h;

  before(async () => {
    h = await startHerald({
      config:
        site("app", "/", 'enabled = true\nclient_ttl = "1h"') +
        site("short", "/short", 'enabled = true\nclient_ttl = "1s"') +
        site("capped", "/capped", "enabled = true\nmax_pending = 2") +
        site("always", "/always", "enabled = true\nalways = true") +
        site("plain", "/plain", null),
    });
  });

  after(async () => {
    await h?.stop();
  });

  const send = (body, { siteName = "app", query = "" } = {}) =>
    fetch(`${h.url}/send?site=${siteName}${query}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": KEY },
      body: JSON.stringify(body),
    });

  /**
   * Connects user `sub` to `nsp`. Records every event; `autoAck` (default true) says
   * whether reliable events and batches are acknowledged.
   */
  function connect(sub, { nsp = "/", siteName = "app", autoAck = true } = {}) {
    return new Promise((resolve, reject) => {
      const s = io(h.url + nsp, {
        auth: { token: h.token(sub, siteName) },
        forceNew: true,
        reconnection: false,
      });
      const events = [];
      const acks = [];
      s.onAny((event, ...args) => {
        const last = args[args.length - 1];
        if (typeof last === "function") {
          args.pop();
          acks.push({ event, args, ack: last });
          if (autoAck) last();
        }
        events.push([event, ...args]);
      });
      s.on("connect", () => resolve({ s, events, acks }));
      s.on("connect_error", reject);
    });
  }

  const close = async (c) => {
    c.s.close();
    await sleep(50);
  };

  it("keeps messages for an offline user and delivers them once as one batch", async () => {
    const r1 = await send({ rooms: ["user:ann"], event: "note", args: ["first", { n: 1 }], reliable: true });
    assert.equal(r1.status, 202);
    const { id: id1 } = await r1.json();
    const { id: id2 } = await (await send({ rooms: ["user:ann"], event: "note", args: ["second"], reliable: true })).json();
    assert.ok(BigInt(id2) > BigInt(id1), "ids increase");

    const c = await connect("ann");
    await until(() => c.events.length >= 1);
    assert.deepEqual(c.events, [["batch", [["note", "first", { n: 1 }, id1], ["note", "second", id2]]]]);
    await close(c);

    // Acked: a new connection gets nothing.
    const again = await connect("ann");
    await sleep(200);
    assert.deepEqual(again.events, []);
    await close(again);
  });

  it("delivers to a connected user with an ack request, the id as last argument", async () => {
    const c = await connect("bea", { autoAck: false });
    const { id } = await (await send({ rooms: ["user:bea"], event: "price", args: [42], reliable: true })).json();
    await until(() => c.acks.length === 1);
    assert.deepEqual(c.events, [["price", 42, id]]);
    // Not acked: still pending, redelivered with the same id on the next connection.
    await close(c);
    const next = await connect("bea", { autoAck: false });
    await until(() => next.acks.length === 1);
    assert.deepEqual(next.events, [["batch", [["price", 42, id]]]]);
    next.acks[0].ack();
    await sleep(100);
    await close(next);
    const last = await connect("bea");
    await sleep(200);
    assert.deepEqual(last.events, []);
    await close(last);
  });

  it("an out-of-order ack of a resync message clears the queue and sends resync", async () => {
    const c = await connect("cat", { autoAck: false });
    await send({ rooms: ["user:cat"], event: "state", args: [1], reliable: true, resync: true });
    // `resync` also as a query parameter.
    await send({ rooms: ["user:cat"], event: "state", args: [2], reliable: true }, { query: "&resync=true" });
    await until(() => c.acks.length === 2);
    c.acks[1].ack(); // the second, while the first is pending
    await until(() => c.events.some(([e]) => e === "resync"));
    assert.deepEqual(c.events.at(-1), ["resync", { reason: "missed" }]);
    await close(c);
    const next = await connect("cat");
    await sleep(200);
    assert.deepEqual(next.events, [], "the queue was cleared");
    await close(next);
  });

  it("acks in order never resync", async () => {
    const c = await connect("dan", { autoAck: false });
    await send({ rooms: ["user:dan"], event: "state", args: [1], reliable: true, resync: true });
    await send({ rooms: ["user:dan"], event: "state", args: [2], reliable: true, resync: true });
    await until(() => c.acks.length === 2);
    c.acks[0].ack();
    c.acks[1].ack();
    await sleep(200);
    assert.ok(!c.events.some(([e]) => e === "resync"));
    await close(c);
  });

  it("messages of a user who stays offline expire after client_ttl", async () => {
    await send({ rooms: ["user:eve"], event: "old", args: [], reliable: true }, { siteName: "short" });
    await sleep(1300);
    await send({ rooms: ["user:eve"], event: "fresh", args: [], reliable: true }, { siteName: "short" });
    const c = await connect("eve", { nsp: "/short", siteName: "short" });
    await until(() => c.events.length >= 1);
    await sleep(100);
    assert.equal(c.events.length, 1);
    assert.equal(c.events[0][0], "batch");
    assert.deepEqual(c.events[0][1].map((m) => m[0]), ["fresh"]);
    await close(c);
  });

  it("past max_pending the oldest are dropped and the next connection gets resync", async () => {
    for (const n of [1, 2, 3]) {
      assert.equal((await send({ rooms: ["user:fay"], event: "n", args: [n], reliable: true }, { siteName: "capped" })).status, 202);
    }
    const c = await connect("fay", { nsp: "/capped", siteName: "capped" });
    await until(() => c.events.length >= 2);
    assert.deepEqual(c.events[0], ["resync", { reason: "overflow" }]);
    assert.equal(c.events[1][0], "batch");
    assert.deepEqual(c.events[1][1].map((m) => m[1]), [2, 3]);
    await close(c);
  });

  it("with several tabs, every tab gets the message and the first ack counts", async () => {
    const tab1 = await connect("gus", { autoAck: false });
    const tab2 = await connect("gus", { autoAck: false });
    const { id } = await (await send({ rooms: ["user:gus"], event: "hello", args: ["tabs"], reliable: true })).json();
    await until(() => tab1.acks.length === 1 && tab2.acks.length === 1);
    assert.deepEqual(tab1.events, [["hello", "tabs", id]]);
    assert.deepEqual(tab2.events, [["hello", "tabs", id]]);
    tab1.acks[0].ack();
    await sleep(100);
    tab2.acks[0].ack(); // the second ack of the same message: ignored
    await sleep(100);
    const tab3 = await connect("gus");
    await sleep(200);
    assert.deepEqual(tab3.events, []);
    for (const t of [tab1, tab2, tab3]) await close(t);
  });

  it("always = true makes every user-room message reliable, other rooms stay plain", async () => {
    const { id } = await (await send({ rooms: ["user:hal", "news"], event: "n", args: [1] }, { siteName: "always" })).json();
    const c = await connect("hal", { nsp: "/always", siteName: "always" });
    await until(() => c.events.length >= 1);
    assert.deepEqual(c.events, [["batch", [["n", 1, id]]]]);
    await close(c);
  });

  it("refuses reliable requests it cannot honour, with a JSON error", async () => {
    const cases = [
      [{ rooms: ["user:x"], event: "e", reliable: true }, "plain", "reliable_disabled"],
      [{ rooms: ["news"], event: "e", reliable: true }, "app", "reliable_needs_user_rooms"],
      [{ event: "e", reliable: true }, "app", "reliable_needs_user_rooms"],
      [{ rooms: ["user:x"], except: ["user:y"], event: "e", reliable: true }, "app", "reliable_except"],
      [{ rooms: ["user:x"], event: "batch", reliable: true }, "app", "reserved_event"],
      [{ rooms: ["user:x"], event: "resync" }, "app", "reserved_event"],
    ];
    for (const [body, siteName, code] of cases) {
      const res = await send(body, { siteName });
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.equal((await res.json()).error.code, code, JSON.stringify(body));
    }
  });
});

describe("herald reliable delivery with the Redis store", () => {
  let redis, redisPort;

  before(async () => {
    const { spawn } = await import("node:child_process");
    const { freePort, waitForPort } = await import("./support.mjs");
    redisPort = await freePort();
    redis = spawn("redis-server", ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    await waitForPort(redisPort, redis);
  });

  after(() => {
    redis?.kill("SIGKILL");
  });

  const config = () =>
    `[redis]\nurl = "redis://127.0.0.1:${redisPort}/"\n` + site("app", "/", 'enabled = true\nclient_ttl = "1h"');

  it("redelivers an unacked message after a herald crash (SIGKILL), same id, then once acked never again", async () => {
    let h = await startHerald({ config: config() });
    const send = (body) =>
      fetch(`${h.url}/send?site=app`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": KEY },
        body: JSON.stringify(body),
      });
    // Delivered to a connected client that has not acked yet when herald dies: it is
    // delivered again after the restart, with the same id.
    const before = await new Promise((resolve, reject) => {
      const s = io(h.url, { auth: { token: h.token("ivy", "app") }, forceNew: true, reconnection: false });
      const got = [];
      s.on("kept", (...args) => got.push(args.slice(0, -1))); // the ack callback is dropped: no ack
      s.on("connect", () => resolve({ s, got }));
      s.on("connect_error", reject);
    });
    const { id } = await (await send({ rooms: ["user:ivy"], event: "kept", args: ["across restarts"], reliable: true })).json();
    await until(() => before.got.length === 1, 5000, "live delivery");
    assert.deepEqual(before.got[0], ["across restarts", id]);
    before.s.close();
    h.child.kill("SIGKILL");
    await new Promise((r) => h.child.once("exit", r));

    h = await startHerald({ config: config() });
    try {
      const got = await new Promise((resolve, reject) => {
        const s = io(h.url, { auth: { token: h.token("ivy", "app") }, forceNew: true, reconnection: false });
        s.on("batch", (messages, ack) => {
          ack();
          resolve({ s, messages });
        });
        s.on("connect_error", reject);
      });
      assert.deepEqual(got.messages, [["kept", "across restarts", id]]);
      got.s.close();
      await sleep(100);
      // Acked through the new process: gone for good.
      const again = await new Promise((resolve, reject) => {
        const s = io(h.url, { auth: { token: h.token("ivy", "app") }, forceNew: true, reconnection: false });
        const events = [];
        s.onAny((e) => events.push(e));
        s.on("connect", () => resolve({ s, events }));
        s.on("connect_error", reject);
      });
      await sleep(300);
      assert.deepEqual(again.events, []);
      again.s.close();
    } finally {
      await h.stop();
    }
  });

  it("two nodes share the store: sent on A, delivered on B, acked on B, gone for A", async () => {
    const { freePort } = await import("./support.mjs");
    const nodes = [];
    for (let i = 0; i < 2; i++) nodes.push(await startHerald({ config: config(), ops: await freePort() }));
    const [a, b] = nodes;
    try {
      for (const n of nodes) {
        await until(async () => (await fetch(`http://127.0.0.1:${n.opsPort}/readyz`)).status === 200, 10_000, "ready");
      }
      const onB = await new Promise((resolve, reject) => {
        const s = io(b.url, { auth: { token: b.token("kim", "app") }, forceNew: true, reconnection: false });
        const acks = [];
        s.onAny((event, ...args) => {
          const ack = args.pop();
          acks.push({ event, args, ack });
        });
        s.on("connect", () => resolve({ s, acks }));
        s.on("connect_error", reject);
      });
      const res = await fetch(`${a.url}/send?site=app`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": KEY },
        body: JSON.stringify({ rooms: ["user:kim"], event: "cross", args: ["node"], reliable: true }),
      });
      const { id } = await res.json();
      await until(() => onB.acks.length === 1, 5000, "delivery on B");
      assert.deepEqual([onB.acks[0].event, ...onB.acks[0].args], ["cross", "node", id]);
      onB.acks[0].ack();
      await sleep(200);
      onB.s.close();
      const onA = await new Promise((resolve, reject) => {
        const s = io(a.url, { auth: { token: a.token("kim", "app") }, forceNew: true, reconnection: false });
        const events = [];
        s.onAny((e) => events.push(e));
        s.on("connect", () => resolve({ s, events }));
        s.on("connect_error", reject);
      });
      await sleep(300);
      assert.deepEqual(onA.events, [], "acked on B: nothing pending on A");
      onA.s.close();
    } finally {
      for (const n of nodes) await n.stop();
    }
  });

  it("a message sent while Redis is down gets 503 and nothing is delivered", async () => {
    const deadPort = await (await import("./support.mjs")).freePort();
    const h = await startHerald({
      config: `[redis]\nurl = "redis://127.0.0.1:${deadPort}/"\n` + site("app", "/", "enabled = true"),
    });
    try {
      const res = await fetch(`${h.url}/send?site=app`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": KEY },
        body: JSON.stringify({ rooms: ["user:joe"], event: "e", reliable: true }),
      });
      assert.equal(res.status, 503);
      assert.equal((await res.json()).error.code, "store_unavailable");
    } finally {
      await h.stop();
    }
  });
});
