// redis-server killed and restarted under two herald nodes: /readyz goes 503 then 200,
// local delivery keeps working meanwhile, and cross-node delivery resumes.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startRedis, startHerald, connect, nextEvent, until } from "./support.mjs";

describe("Redis restart", () => {
  let redis, a, b, onA, onB;

  before(async () => {
    redis = await startRedis();
    [a, b] = [await startHerald(redis.url), await startHerald(redis.url)];
    onA = await connect(a.url, { token: a.token("ann") });
    onB = await connect(b.url, { token: b.token("ben") });
  });

  after(async () => {
    for (const s of [onA, onB]) s?.disconnect();
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  it("reconnects, resubscribes, and delivers again", async () => {
    await a.send({ event: "before" });
    assert.deepEqual(await nextEvent(onB, "before"), []);

    await redis.stop();
    await until("A not ready", async () => (await a.readyz()) === 503);
    await until("B not ready", async () => (await b.readyz()) === 503);
    assert.match(await a.metrics(), /herald_redis_connected 0/);
    // Local clients keep being served.
    await a.send({ event: "local-only" });
    assert.deepEqual(await nextEvent(onA, "local-only"), []);

    redis = await startRedis(redis.port);
    await until("A ready again", async () => (await a.readyz()) === 200);
    await until("B ready again", async () => (await b.readyz()) === 200);
    await a.send({ event: "after", args: [1] });
    assert.deepEqual(await nextEvent(onB, "after"), [1]);
    await b.send({ event: "back", args: [2] });
    assert.deepEqual(await nextEvent(onA, "back"), [2]);
    const m = await a.metrics();
    assert.match(m, /herald_redis_connected 1/);
    assert.match(m, /herald_redis_reconnects_total [1-9]/);
  });
});
