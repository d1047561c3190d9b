// The official emitters, @socket.io/redis-emitter 5.1.0 and the old socket.io-emitter
// 3.2.0, publishing through a real redis-server to the real herald binary: everyone, one
// room, several rooms, except, flags, binary and Dates, another namespace, and the
// request-channel operations (socketsJoin/Leave, disconnectSockets, serverSideEmit).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { startRedis, startHerald, connect, nextEvent, take, flush, until } from "./support.mjs";

const require = createRequire(import.meta.url);
const oldEmitter = require("socket.io-emitter");

describe("emitters → herald over Redis", () => {
  let redis, herald, client, emitter, old, alice, bob, carol;
  const main = () => [alice, bob];

  before(async () => {
    redis = await startRedis();
    herald = await startHerald(redis.url);
    client = createClient({ url: redis.url });
    await client.connect();
    emitter = new Emitter(client);
    old = oldEmitter({ host: "127.0.0.1", port: redis.port });
    alice = await connect(herald.url, { token: herald.token("alice") });
    bob = await connect(herald.url, { token: herald.token("bob") });
    carol = await connect(herald.url, { token: herald.token("carol", "axr") }, "/axr");
  });

  after(async () => {
    for (const s of [alice, bob, carol]) s?.disconnect();
    await client?.quit();
    old?.redis.quit();
    await herald?.stop();
    await redis?.stop();
  });

  const flush5 = () => flush(main(), (m) => emitter.emit(m));
  const flushOld = () => flush(main(), (m) => old.emit(m));

  it("5.1.0: emit to everyone reaches every socket of the namespace, once", async () => {
    emitter.emit("e1", 1, "two", { three: 3 });
    assert.deepEqual(await nextEvent(alice, "e1"), [1, "two", { three: 3 }]);
    assert.deepEqual(await nextEvent(bob, "e1"), [1, "two", { three: 3 }]);
    await flush5();
    assert.equal(take(alice, "e1").length + take(bob, "e1").length, 0, "exactly once");
    assert.equal(take(carol, "e1").length, 0, "not in another namespace");
  });

  it("5.1.0: one room, several rooms, except", async () => {
    emitter.to("bob").emit("e2", 42);
    emitter.to(["alice", "bob"]).emit("e3", "x");
    emitter.to("allusers").except("bob").emit("e4");
    await flush5();
    assert.deepEqual(take(bob, "e2"), [[42]]);
    assert.deepEqual(take(alice, "e2"), []);
    assert.deepEqual(take(alice, "e3"), [["x"]]);
    assert.deepEqual(take(bob, "e3"), [["x"]]);
    assert.deepEqual(take(alice, "e4"), [[]]);
    assert.deepEqual(take(bob, "e4"), []);
  });

  it("5.1.0: volatile and compress flags are accepted", async () => {
    emitter.volatile.emit("e5", "v");
    emitter.compress(false).emit("e6", "c");
    assert.deepEqual(await nextEvent(alice, "e5"), ["v"]);
    assert.deepEqual(await nextEvent(bob, "e6"), ["c"]);
  });

  it("5.1.0: Buffers arrive as binary, Dates as their ISO string", async () => {
    emitter.to("bob").emit("e7", Buffer.from([0xde, 0xad]), new Date(1700000000123), { d: new Date(0) });
    const [buf, date, obj] = await nextEvent(bob, "e7");
    assert.ok(Buffer.isBuffer(buf), `a Buffer, got ${typeof buf}`);
    assert.equal(buf.toString("hex"), "dead");
    assert.equal(date, "2023-11-14T22:13:20.123Z");
    assert.deepEqual(obj, { d: "1970-01-01T00:00:00.000Z" });
  });

  it("5.1.0: of(nsp) reaches that namespace only", async () => {
    emitter.of("/axr").emit("e8", "axr");
    emitter.of("axr").emit("e8b");
    assert.deepEqual(await nextEvent(carol, "e8"), ["axr"]);
    assert.deepEqual(await nextEvent(carol, "e8b"), []);
    await flush5();
    assert.equal(take(alice, "e8").length + take(bob, "e8").length, 0);
  });

  it("5.1.0: socketsJoin and socketsLeave", async () => {
    emitter.in("bob").socketsJoin("vip");
    emitter.to("vip").emit("e9");
    await flush5();
    assert.deepEqual(take(bob, "e9"), [[]]);
    assert.deepEqual(take(alice, "e9"), []);
    emitter.in("bob").socketsLeave("vip");
    emitter.to("vip").emit("e10");
    await flush5();
    assert.deepEqual(take(bob, "e10"), []);
  });

  it("5.1.0: serverSideEmit reaches the herald node", async () => {
    emitter.serverSideEmit("hello", "from-emitter");
    await until("server-side event counted", async () =>
      (await herald.metrics()).includes('herald_server_side_events_total{site="app"} 1'));
  });

  it("5.1.0: disconnectSockets, with and without closing the connection", async () => {
    const dave = await connect(herald.url, { token: herald.token("dave") });
    const erin = await connect(herald.url, { token: herald.token("erin") });
    const reason = (s) => new Promise((r) => s.once("disconnect", r));
    const [rd, re] = [reason(dave), reason(erin)];
    emitter.in("dave").disconnectSockets();
    emitter.in("erin").disconnectSockets(true);
    assert.equal(await rd, "io server disconnect");
    assert.equal(await re, "transport close");
    await flush5();
    assert.ok(alice.connected && bob.connected, "the others stay");
  });

  it("3.2.0: everyone, one room, several rooms with the broadcast flag", async () => {
    old.emit("o1", "a", { b: 1 });
    old.to("bob").emit("o2", 3);
    old.to("alice").to("bob").broadcast.emit("o3");
    await flushOld();
    assert.deepEqual(take(alice, "o1"), [["a", { b: 1 }]]);
    assert.deepEqual(take(bob, "o1"), [["a", { b: 1 }]]);
    assert.deepEqual(take(bob, "o2"), [[3]]);
    assert.deepEqual(take(alice, "o2"), []);
    assert.deepEqual(take(alice, "o3"), [[]]);
    assert.deepEqual(take(bob, "o3"), [[]]);
  });

  it("3.2.0: volatile and json flags, Buffers and legacy Dates, another namespace", async () => {
    old.volatile.emit("o4");
    old.json.emit("o4b");
    old.to("bob").emit("o5", Buffer.from([9]), new Date(1700000000000));
    old.of("/axr").emit("o6", "axr");
    await flushOld();
    assert.deepEqual(take(alice, "o4"), [[]]);
    assert.deepEqual(take(bob, "o4b"), [[]]);
    const [[buf, date]] = take(bob, "o5");
    assert.ok(Buffer.isBuffer(buf));
    assert.equal(buf.toString("hex"), "09");
    assert.equal(date, "2023-11-14T22:13:20.000Z");
    assert.deepEqual(await nextEvent(carol, "o6"), ["axr"]);
    assert.equal(take(alice, "o6").length, 0);
  });
});

describe("channel prefix", () => {
  let redis, herald, client, custom, plain, frank;

  before(async () => {
    redis = await startRedis();
    herald = await startHerald(redis.url, 'channel_prefix = "custom"');
    client = createClient({ url: redis.url });
    await client.connect();
    custom = new Emitter(client, { key: "custom" });
    plain = new Emitter(client);
    frank = await connect(herald.url, { token: herald.token("frank") });
  });

  after(async () => {
    frank?.disconnect();
    await client?.quit();
    await herald?.stop();
    await redis?.stop();
  });

  it("only emitters with the same key reach herald", async () => {
    plain.emit("wrong-key");
    custom.emit("right-key");
    await flush([frank], (m) => custom.emit(m));
    assert.deepEqual(take(frank, "right-key"), [[]]);
    assert.deepEqual(take(frank, "wrong-key"), []);
  });
});
