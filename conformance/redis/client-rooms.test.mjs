// Client room messaging across two herald nodes on one redis-server (its own, on a free
// port): JOIN on both nodes, NOTIFY from either node reaches the members of the other,
// CLIENTS lists the members of both nodes, LEAVE is seen cluster-wide, and a backend
// push to `room:<room>` on one node reaches the members on the other. The nodes are
// started with ../herald/support.mjs, for a site config with client_rooms.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startHerald, freePort, sleep, until } from "../herald/support.mjs";
import { startRedis } from "./support.mjs";

const KEY = "rooms-redis-api-key-0123456789";
const SECRET = "a-rooms-redis-secret-long-enough-0123456789";

async function node(redisUrl) {
  const ops = await freePort();
  const h = await startHerald({
    ops,
    config: `[redis]
url = "${redisUrl}"
[[sites]]
name = "app"
api_keys = ["${KEY}"]
client_rooms = true
[sites.auth]
mode = "jwt"
secret = "${SECRET}"
`,
  });
  await until(async () => (await fetch(`http://127.0.0.1:${ops}/readyz`)).status === 200, 15_000, "herald subscribed to Redis");
  return h;
}

describe("client rooms on two herald nodes (Redis)", () => {
  let redis, a, b;
  const sockets = [];

  before(async () => {
    redis = await startRedis();
    a = await node(redis.url);
    b = await node(redis.url);
  });

  after(async () => {
    for (const s of sockets) s.close();
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  const connect = (h, sub) =>
    new Promise((resolve, reject) => {
      const s = io(h.url, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { token: h.token(sub, "app") } });
      sockets.push(s);
      const events = [];
      s.onAny((event, ...args) => events.push([event, ...args]));
      s.on("connect", () => resolve({ s, events, of: (name) => events.filter((e) => e[0] === name) }));
      s.on("connect_error", reject);
    });
  const call = (c, event, arg) => c.s.timeout(6000).emitWithAck(event, arg);

  it("JOIN, NOTIFY, CLIENTS and LEAVE between clients of two nodes", async () => {
    const ann = await connect(a, "ann");
    const ben = await connect(b, "ben");
    const bea = await connect(b, "bea");
    assert.deepEqual(await call(ann, "JOIN", { room: "lobby", name: "Ann" }), { ok: true, room: "lobby", name: "Ann" });
    assert.equal((await call(ben, "JOIN", { room: "lobby", name: "Ben" })).ok, true);
    assert.deepEqual(await call(bea, "JOIN", "lobby"), { ok: true, room: "lobby", name: "bea" });

    // The listing covers both nodes, from either node.
    assert.deepEqual(await call(ann, "CLIENTS", { room: "lobby" }), { ok: true, room: "lobby", clients: ["Ann", "Ben", "bea"] });
    ben.s.emit("CLIENTS", "lobby");
    await until(() => ben.of("CLIENTS").length === 1, 6000, "CLIENTS event on B");
    assert.deepEqual(ben.of("CLIENTS")[0], ["CLIENTS", { room: "lobby", clients: ["Ann", "Ben", "bea"] }]);

    // A → B.
    await call(ann, "NOTIFY", { room: "lobby", message: { text: "from A" } });
    await until(() => ben.of("EVENT").length === 1 && bea.of("EVENT").length === 1, 6000, "EVENT on B");
    for (const c of [ben, bea]) {
      assert.deepEqual(c.of("EVENT")[0], ["EVENT", { sender: "Ann", room: "lobby", message: { text: "from A" } }]);
    }
    // B → A, and the notifier's own node does not echo it back to the notifier.
    await call(ben, "NOTIFY", { room: "lobby", message: "from B" });
    await until(() => ann.of("EVENT").length === 1 && bea.of("EVENT").length === 2, 6000, "EVENT on A");
    assert.deepEqual(ann.of("EVENT")[0], ["EVENT", { sender: "Ben", room: "lobby", message: "from B" }]);

    // LEAVE on B is seen by a listing on A; the leaver gets no more EVENTs.
    assert.deepEqual(await call(ben, "LEAVE", "lobby"), { ok: true, room: "lobby" });
    assert.deepEqual((await call(ann, "CLIENTS", "lobby")).clients, ["Ann", "bea"]);
    await call(ann, "NOTIFY", { room: "lobby", message: 2 });
    await until(() => bea.of("EVENT").length === 3, 6000, "second EVENT on B");
    await sleep(200);
    assert.equal(ben.of("EVENT").length, 1, "ben: only the EVENT from before his LEAVE");
    assert.equal(ann.of("EVENT").length, 1, "ann: no EVENT of her own");

    // A backend push to the internal room on node B reaches the member on node A.
    const res = await fetch(`${b.url}/send?site=app`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ rooms: ["room:lobby"], event: "announce", args: ["all hands"] }),
    });
    assert.equal(res.status, 202);
    await until(() => ann.of("announce").length === 1 && bea.of("announce").length === 1, 6000, "announce on both nodes");
    assert.deepEqual(ann.of("announce")[0], ["announce", "all hands"]);
    await sleep(200);
    assert.equal(ben.of("announce").length, 0);
  });
});
