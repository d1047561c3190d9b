// A mixed cluster on one redis-server: a Node.js socket.io 4.8 server with
// @socket.io/redis-adapter 8.3 and a herald node, clients on both. Broadcasts both ways,
// fetchSockets both ways, a broadcast with acks across the mix, serverSideEmit, remote
// joins, allRooms and an emitter reaching both.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { createClient } from "redis";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { Emitter } from "@socket.io/redis-emitter";
import { io as ioClient } from "socket.io-client";
import { startRedis, startHerald, connect, nextEvent, take, flush, freePort, until } from "./support.mjs";

describe("mixed cluster: Node socket.io + herald", () => {
  let redis, herald, pub, sub, emitClient, nodeIo, httpServer, nodeUrl, onNode, onHerald;
  const errors = [];

  before(async () => {
    redis = await startRedis();
    herald = await startHerald(redis.url);
    pub = createClient({ url: redis.url });
    sub = pub.duplicate();
    emitClient = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect(), emitClient.connect()]);
    httpServer = http.createServer();
    nodeIo = new Server(httpServer, { adapter: createAdapter(pub, sub) });
    nodeIo.on("connection", (socket) => {
      socket.join(["allusers", "room-n"]);
      socket.data = { who: "node" };
    });
    nodeIo.on("hello", (...args) => errors.push(["unexpected server-side event on node", args]));
    process.on("uncaughtException", (e) => errors.push(e));
    const port = await freePort();
    await new Promise((r) => httpServer.listen(port, "127.0.0.1", r));
    nodeUrl = `http://127.0.0.1:${port}`;
    onNode = await new Promise((resolve, reject) => {
      const s = ioClient(nodeUrl, { transports: ["websocket"], reconnection: false, forceNew: true });
      s.events = [];
      s.onAny((...args) => s.events.push(args));
      s.once("connect", () => resolve(s));
      s.once("connect_error", reject);
    });
    onHerald = await connect(herald.url, { token: herald.token("hank") });
    await until("both nodes count each other", async () => (await nodeIo.of("/").adapter.serverCount()) === 2);
  });

  after(async () => {
    for (const s of [onNode, onHerald]) s?.disconnect();
    nodeIo?.close();
    await Promise.allSettled([pub?.quit(), sub?.quit(), emitClient?.quit()]);
    await herald?.stop();
    await redis?.stop();
    assert.deepEqual(errors, [], "the Node server saw no error");
  });

  const both = () => [onNode, onHerald];
  const flushNode = () => flush(both(), (m) => nodeIo.emit(m));

  it("Node's broadcasts reach herald's clients once", async () => {
    nodeIo.emit("from-node", 1, { a: [true] });
    nodeIo.to("hank").emit("to-hank");
    nodeIo.except("hank").emit("not-hank");
    await flushNode();
    assert.deepEqual(take(onHerald, "from-node"), [[1, { a: [true] }]]);
    assert.deepEqual(take(onNode, "from-node"), [[1, { a: [true] }]]);
    assert.deepEqual(take(onHerald, "to-hank"), [[]]);
    assert.deepEqual(take(onNode, "to-hank"), []);
    assert.deepEqual(take(onHerald, "not-hank"), []);
    assert.deepEqual(take(onNode, "not-hank"), [[]]);
  });

  it("herald's POST /send reaches Node's clients once, and Node keeps running", async () => {
    assert.equal((await herald.send({ event: "from-herald", args: ["x", 2.5, null] })).status, 202);
    await flushNode();
    assert.deepEqual(take(onNode, "from-herald"), [["x", 2.5, null]]);
    assert.deepEqual(take(onHerald, "from-herald"), [["x", 2.5, null]]);
  });

  it("a broadcast with acks from Node collects herald's client too", async () => {
    onNode.once("q", (p, ack) => ack(`node:${p}`));
    onHerald.once("q", (p, ack) => ack(`herald:${p}`, "dropped"));
    const started = Date.now();
    const responses = await nodeIo.timeout(3000).emitWithAck("q", "p");
    assert.deepEqual(responses.sort(), ["herald:p", "node:p"]);
    assert.ok(Date.now() - started < 2000, "no node waited for its timeout");
  });

  it("Node's fetchSockets includes herald's socket, which it can then reach", async () => {
    const sockets = await nodeIo.fetchSockets();
    const mine = sockets.find((s) => s.id === onHerald.id);
    assert.ok(mine, `herald's socket in ${sockets.map((s) => s.id)}`);
    assert.ok(mine.rooms.has("allusers") && mine.rooms.has("hank") && mine.rooms.has(onHerald.id));
    assert.equal(mine.data.user, "hank");
    assert.equal(typeof mine.handshake.issued, "number");
    assert.equal(typeof mine.handshake.time, "string");
    assert.equal(mine.handshake.query.EIO, "4");
    mine.emit("direct", "to-you");
    assert.deepEqual(await nextEvent(onHerald, "direct"), ["to-you"]);
  });

  it("remote join from Node, and allRooms merges herald's rooms", async () => {
    nodeIo.in("hank").socketsJoin("r9");
    nodeIo.to("r9").emit("r9-ev");
    await flushNode();
    assert.deepEqual(take(onHerald, "r9-ev"), [[]]);
    const rooms = await nodeIo.of("/").adapter.allRooms();
    for (const r of ["hank", "allusers", "r9", "room-n"]) assert.ok(rooms.has(r), `${r} in allRooms`);
  });

  it("Node's serverSideEmit reaches herald", async () => {
    nodeIo.serverSideEmit("sync", 1);
    await until("counted", async () =>
      (await herald.metrics()).includes('herald_server_side_events_total{site="app"} 1'));
  });

  it("an emitter reaches the clients of both nodes once", async () => {
    const emitter = new Emitter(emitClient);
    emitter.emit("from-emitter", Buffer.from([1, 2]));
    await flush(both(), (m) => emitter.emit(m));
    for (const s of both()) {
      const got = take(s, "from-emitter");
      assert.equal(got.length, 1);
      assert.equal(Buffer.from(got[0][0]).toString("hex"), "0102");
    }
  });

  it("herald's /disconnect fetches and disconnects Node's socket", async () => {
    const gone = new Promise((r) => onNode.once("disconnect", r));
    const r = await herald.send({ rooms: ["room-n"] }, "app", "/disconnect");
    assert.deepEqual(r, { status: 200, body: { disconnected: 1 } });
    assert.equal(await gone, "transport close");
  });
});
