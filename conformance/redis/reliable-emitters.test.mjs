// Reliable delivery of what the official Redis emitters publish (`[sites.reliable]
// emitters = true`), with two herald nodes on one real redis-server and the Redis store:
// every node receives the emitter's PUBLISH, exactly one stores it; offline users get it
// in their batch, connected ones once with an ack request; the same message published
// twice is two messages; what is not for user rooms, volatile or binary stays plain.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { startRedis, startHerald, connect, until, sleep } from "./support.mjs";

const SITE = `
[[sites]]
name = "rel"
namespace = "/rel"
api_keys = ["redis-test-api-key-0123456789"]
user_room_prefix = "user:"
[sites.auth]
mode = "jwt"
secret = "a-redis-test-secret-that-is-long-enough-0123"
[sites.reliable]
enabled = true
emitters = true
`;

describe("reliable delivery of emitter messages, two herald nodes", () => {
  let redis, a, b, client, emitter;
  const open = [];

  before(async () => {
    redis = await startRedis();
    a = await startHerald(redis.url, "", SITE);
    b = await startHerald(redis.url, "", SITE);
    client = createClient({ url: redis.url });
    await client.connect();
    emitter = new Emitter(client).of("/rel");
  });

  after(async () => {
    for (const s of open) s.disconnect();
    await client?.quit();
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  const join = async (node, user) => {
    const s = await connect(node.url, { token: node.token(user, "rel") }, "/rel");
    open.push(s);
    return s;
  };
  const pending = (user) => client.zCard(`herald:reliable:rel:u:${user}:q`);
  /** Splits recorded events into [name, ...args] with the ack callback taken off. */
  const acked = (s, name) =>
    s.events
      .filter((e) => e[0] === name)
      .map((e) => {
        const ack = e[e.length - 1];
        assert.equal(typeof ack, "function", `${name} comes with an ack request`);
        return { args: e.slice(1, -1), ack };
      });

  it("an offline user's message is stored once (not once per node) and arrives in the batch", async () => {
    emitter.to("user:olga").emit("note", { n: 1 });
    emitter.to("user:olga").emit("note", { n: 1 }); // the same bytes again: a second message
    emitter.to("user:olga").emit("note", { n: 2 });
    await until("three messages stored", async () => (await pending("olga")) === 3);
    await sleep(300);
    assert.equal(await pending("olga"), 3, "two nodes, still three messages");

    const s = await join(b, "olga");
    await until("batch", () => s.events.some((e) => e[0] === "batch"));
    const [{ args, ack }] = acked(s, "batch");
    const [messages] = args;
    assert.equal(messages.length, 3);
    assert.deepEqual(messages.map((m) => m.slice(0, 2)), [["note", { n: 1 }], ["note", { n: 1 }], ["note", { n: 2 }]]);
    const ids = messages.map((m) => BigInt(m[2]));
    assert.ok(ids[0] < ids[1] && ids[1] < ids[2], "ids in publish order");
    ack();
    await until("acked", async () => (await pending("olga")) === 0);
    s.disconnect();

    const again = await join(a, "olga");
    await sleep(300);
    assert.deepEqual(again.events, [], "nothing twice after the ack");
  });

  it("a connected user gets it once per connection, with the id and an ack request, on either node", async () => {
    const onA = await join(a, "pia");
    const onB = await join(b, "pia");
    emitter.to("user:pia").emit("price", 42);
    await until("both tabs", () => onA.events.length === 1 && onB.events.length === 1);
    const [x] = acked(onA, "price");
    const [y] = acked(onB, "price");
    assert.equal(x.args[0], 42);
    assert.deepEqual(x.args, y.args, "the same message, the same id, on both nodes");
    assert.equal(typeof x.args[1], "string");
    assert.equal(await pending("pia"), 1);
    y.ack();
    await until("acked on B", async () => (await pending("pia")) === 0);
    await sleep(200);
    assert.equal(onA.events.length, 1, "delivered exactly once to each socket");
    onA.disconnect();
    const later = await join(a, "pia");
    await sleep(300);
    assert.deepEqual(later.events, [], "acked from one tab: nothing pending");
  });

  it("messages published while a connection reads its pending ones come once each, after the batch", async () => {
    emitter.to("user:quinn").emit("q", 0);
    await until("stored", async () => (await pending("quinn")) === 1);
    // Publish while the connection is being made and its pending messages read.
    const connecting = join(b, "quinn");
    for (let i = 1; i <= 30; i++) {
      emitter.to("user:quinn").emit("q", i);
      await sleep(2);
    }
    const s = await connecting;
    const got = () => {
      const out = [];
      for (const e of s.events) {
        if (e[0] === "batch") for (const m of e[1]) out.push(m[1]);
        else if (e[0] === "q") out.push(e[1]);
      }
      return out;
    };
    await until("all 31", () => got().length >= 31);
    await sleep(300);
    assert.equal(s.events[0][0], "batch", "the batch comes first");
    assert.deepEqual([...got()].sort((x, y) => x - y), Array.from({ length: 31 }, (_, i) => i), "each message once");
    for (const e of s.events) e[e.length - 1]();
    await until("acked", async () => (await pending("quinn")) === 0);
  });

  it("several rooms: the user rooms are reliable, the others plain, nobody gets it twice", async () => {
    const vic = await join(a, "vic"); // in user:vic and allusers
    const wes = await join(b, "wes"); // in allusers only
    emitter.to(["allusers", "user:vic"]).emit("mixed", "m");
    await until("both", () => vic.events.length === 1 && wes.events.length === 1);
    const [v] = acked(vic, "mixed");
    assert.deepEqual(v.args.slice(0, 1), ["m"]);
    assert.equal(typeof v.args[1], "string", "vic: reliable, with its id");
    assert.deepEqual(wes.events, [["mixed", "m"]], "wes: plain, no id, no ack");
    v.ack();
    await until("acked", async () => (await pending("vic")) === 0);
    await sleep(200);
    assert.equal(vic.events.length, 1);
    assert.equal(wes.events.length, 1);
  });

  it("volatile and binary messages stay plain: nothing stored, delivered to who is connected", async () => {
    const xen = await join(b, "xen");
    emitter.to("user:xen").volatile.emit("vol", 1);
    emitter.to("user:xen").emit("bin", Buffer.from([1, 2, 3]));
    emitter.to("user:yan").volatile.emit("vol", 2); // yan is offline
    await until("xen got both", () => xen.events.length === 2);
    assert.deepEqual(xen.events[0], ["vol", 1]);
    assert.equal(xen.events[1][0], "bin");
    assert.deepEqual([...xen.events[1][1]], [1, 2, 3]);
    assert.equal(xen.events[1].length, 2, "no id, no ack");
    assert.equal(await pending("xen"), 0);
    const yan = await join(a, "yan");
    await sleep(300);
    assert.deepEqual(yan.events, [], "a volatile message is not kept for an offline user");
  });

  it("POST /send to a user room and plain emitter broadcasts to everyone are unchanged", async () => {
    const zoe = await join(a, "zoe");
    emitter.emit("everyone", "hi");
    await until("plain broadcast", () => zoe.events.length === 1);
    assert.deepEqual(zoe.events[0], ["everyone", "hi"]);
    const r = await b.send({ rooms: ["user:zoe"], event: "direct", args: [1] }, "rel");
    assert.equal(r.status, 202);
    await until("plain send", () => zoe.events.length === 2);
    assert.deepEqual(zoe.events[1], ["direct", 1], "a plain /send stays plain");
    assert.equal(await pending("zoe"), 0);
  });

  it("with one node gone, the other stores and delivers alone (no node is special)", async () => {
    await a.stop();
    emitter.to("user:ada").emit("alone", 1);
    await until("stored by B", async () => (await pending("ada")) === 1);
    const ada = await join(b, "ada");
    await until("batch", () => ada.events.length === 1);
    const [{ args, ack }] = acked(ada, "batch");
    assert.deepEqual(args[0].map((m) => m.slice(0, 2)), [["alone", 1]]);
    ack();
    await until("acked", async () => (await pending("ada")) === 0);
  });
});
