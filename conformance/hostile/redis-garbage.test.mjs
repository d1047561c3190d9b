// Garbage published on herald's own Redis channels: every kind of broken or oversized
// message is dropped and counted (herald_redis_dropped_messages_total), herald keeps its
// subscription, and a healthy client still gets a /send and an emitter broadcast.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { Emitter } from "@socket.io/redis-emitter";
import { startRedis, startHerald, connect, nextEvent, until } from "../redis/support.mjs";

describe("hostile Redis channels", () => {
  let redis, herald, pub;

  before(async () => {
    redis = await startRedis();
    herald = await startHerald(redis.url, "max_message_size = 65536");
    pub = createClient({ url: redis.url });
    await pub.connect();
  });

  after(async () => {
    await pub?.quit();
    await herald?.stop();
    await redis?.stop();
  });

  const dropped = async (reason) => {
    const m = await herald.metrics();
    const line = m.match(new RegExp(`herald_redis_dropped_messages_total\\{reason="${reason}"\\} (\\d+)`));
    return Number(line?.[1] ?? NaN);
  };

  it("drops and counts malformed and oversized messages, and keeps serving", async () => {
    const alice = await connect(herald.url, { token: herald.token("alice") });
    const malformed0 = await dropped("malformed");
    const oversized0 = await dropped("oversized");
    assert.ok(Number.isFinite(malformed0) && Number.isFinite(oversized0), "the counters are exported");

    const garbage = [
      ["socket.io#/#", Buffer.from("not msgpack at all")],
      ["socket.io#/#", Buffer.from([0x93, 0xa7])], // a truncated msgpack array
      ["socket.io#/#", Buffer.from([0x93, 0xa1, 0x78, 0xc0, 0xc0, 0xff])], // trailing byte
      ["socket.io#/#", Buffer.from([0x93, 0xa7, ...Buffer.from("emitter"), 0x81, 0xa4, ...Buffer.from("type"), 0x05, 0x80])],
      ["socket.io#/#alice#", Buffer.from([0xc1])], // a reserved msgpack marker
      ["socket.io-request#/#", Buffer.from("{not json")],
      ["socket.io-request#/#", Buffer.from('{"type":99,"requestId":"x","uid":"evil"}')],
      ["socket.io-request#/#", Buffer.from('{"type":2,"uid":"evil","opts":{"rooms":"notalist"}}')],
      ["socket.io-response#/#", Buffer.from("[1,2,3")],
    ];
    for (const [channel, bytes] of garbage) await pub.publish(channel, bytes);
    await pub.publish("socket.io#/#", Buffer.alloc(70_000, 0x90)); // over max_message_size

    await until("oversized counted", async () => (await dropped("oversized")) >= oversized0 + 1);
    await until("malformed counted", async () => (await dropped("malformed")) >= malformed0 + 5);
    assert.equal(await herald.readyz(), 200, "still subscribed");

    // Still serving: a /send and an emitter broadcast reach the healthy client.
    assert.equal((await herald.send({ rooms: ["alice"], event: "after", args: ["send"] })).status, 202);
    assert.deepEqual(await nextEvent(alice, "after"), ["send"]);
    new Emitter(pub).to("alice").emit("after", "emitter");
    assert.deepEqual(await nextEvent(alice, "after"), ["emitter"]);
    assert.ok(alice.connected);
    alice.close();
  });
});
