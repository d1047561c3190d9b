// Two herald nodes on one redis-server, clients on both: POST /send on node A reaches
// the clients of both nodes exactly once; user rooms and /disconnect work across nodes.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { startRedis, startHerald, connect, nextEvent, take, flush } from "./support.mjs";

describe("two herald nodes", () => {
  let redis, a, b, onA, onB, onB2;

  before(async () => {
    redis = await startRedis();
    [a, b] = [await startHerald(redis.url), await startHerald(redis.url)];
    onA = await connect(a.url, { token: a.token("ann") });
    onB = await connect(b.url, { token: b.token("ben") });
    onB2 = await connect(b.url, { token: b.token("bea") });
  });

  after(async () => {
    for (const s of [onA, onB, onB2]) s?.disconnect();
    await a?.stop();
    await b?.stop();
    await redis?.stop();
  });

  const all = () => [onA, onB, onB2];
  const flushA = () => flush(all(), (m) => a.send({ event: m }));

  it("POST /send on A reaches every client of both nodes once", async () => {
    const r = await a.send({ event: "news", args: [1, { k: "v" }] });
    assert.equal(r.status, 202);
    for (const s of all()) assert.deepEqual(await nextEvent(s, "news"), [1, { k: "v" }]);
    await flushA();
    for (const s of all()) assert.equal(take(s, "news").length, 0, `${s.id}: exactly once`);
  });

  it("a user room on the other node, and except", async () => {
    await a.send({ event: "dm", rooms: ["ben"], args: ["hi ben"] });
    await b.send({ event: "not-bea", except: ["bea"] });
    await flushA();
    assert.deepEqual(take(onB, "dm"), [["hi ben"]]);
    assert.deepEqual(take(onA, "dm"), []);
    assert.deepEqual(take(onB2, "dm"), []);
    assert.deepEqual(take(onA, "not-bea"), [[]]);
    assert.deepEqual(take(onB, "not-bea"), [[]]);
    assert.deepEqual(take(onB2, "not-bea"), []);
  });

  it("/disconnect on A counts and disconnects a socket of B", async () => {
    const gone = new Promise((r) => onB2.once("disconnect", r));
    const r = await a.send({ user: "bea" }, "app", "/disconnect");
    assert.deepEqual(r, { status: 200, body: { disconnected: 1 } });
    assert.equal(await gone, "transport close");
  });
});
