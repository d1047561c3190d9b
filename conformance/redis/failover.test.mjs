// A node of two leaves: herald nodes A and B on one redis-server, socket.io-clients on
// both (websocket and polling) that fail over the simple way — every reconnection
// attempt goes to the other node's URL — and a publisher POSTing /send on B all along.
// A is stopped gracefully (SIGTERM: drain) or killed (SIGKILL). Checked: every client of
// A reconnects to B; every client gets every broadcast sent after the fail-over completed
// (counted, none lost), B's own clients every broadcast of the whole run; B's /readyz
// answers 200 throughout; B's cluster view (CLIENTS of a client room, which lists the
// sockets of every node, and herald_connections) holds exactly the live clients, none of
// A's old sockets. And with reliable delivery in the Redis store: what was sent to a user
// while its client was failing over, and what A delivered but never got acked, arrives on
// B in the `batch` of the reconnection.
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startRedis, startHerald, until, sleep, KEY } from "./support.mjs";

const SECRET = "a-redis-test-secret-that-is-long-enough-0123";
// One more site: client rooms (for the cluster view) and reliable delivery to user rooms.
const SITE = `
[[sites]]
name = "fo"
namespace = "/fo"
api_keys = ["${KEY}"]
client_rooms = true
user_room_prefix = "user:"
[sites.auth]
mode = "jwt"
secret = "${SECRET}"
[sites.reliable]
enabled = true
`;

const running = [];
after(async () => {
  for (const x of running.reverse()) await x.stop();
});

async function cluster() {
  const redis = await startRedis();
  running.push(redis);
  const a = await startHerald(redis.url, "", SITE);
  running.push(a);
  const b = await startHerald(redis.url, "", SITE);
  running.push(b);
  return { redis, a, b };
}

/**
 * A socket.io-client on `urls[first]` + "/fo" with the default reconnection settings;
 * each reconnection attempt goes to the other URL. On every connection it JOINs the
 * client room "lobby" as `name`. Records `ticks` (sequence numbers) and `joins`.
 */
function failoverClient(urls, first, token, name, transports, onEvent = null) {
  let node = first;
  const s = io(`${urls[node]}/fo`, { auth: { token }, transports, forceNew: true });
  s.name = name;
  s.node = () => node;
  s.ticks = [];
  s.joined = false;
  s.disconnects = [];
  s.joinErrors = [];
  s.io.on("reconnect_attempt", () => {
    node = 1 - node;
    s.io.uri = `${urls[node]}/fo`;
  });
  s.on("tick", (seq) => s.ticks.push(seq));
  s.on("disconnect", (reason) => {
    s.joined = false;
    s.disconnects.push(reason);
    s.leftAt = Date.now();
  });
  s.on("connect", async () => {
    const r = await s.timeout(5000).emitWithAck("JOIN", { room: "lobby", name }).catch((e) => ({ error: e.message }));
    if (r?.ok) s.joined = true;
    else s.joinErrors.push(r); // shows in the failing `until` below as a never-joined client
  });
  if (onEvent) s.onAny(onEvent);
  return s;
}

async function connections(h, site) {
  const m = new RegExp(`^herald_connections\\{site="${site}"\\} (\\d+)$`, "m").exec(await h.metrics());
  return m ? Number(m[1]) : 0;
}

async function leaves(signal) {
  const { a, b } = await cluster();
  const urls = [a.url, b.url];
  const token = (i) => b.token(`u${i}`, "fo");
  const onA = [];
  const onB = [];
  // 12 clients on A, 6 on B; half websocket, half polling
  for (let i = 0; i < 18; i++) {
    const first = i < 12 ? 0 : 1;
    const s = failoverClient(urls, first, token(i), `c${i}`, i % 2 ? ["polling"] : ["websocket"]);
    (first === 0 ? onA : onB).push(s);
  }
  const all = [...onA, ...onB];
  try {
    await until("every client connected and joined", () => all.every((s) => s.connected && s.joined));
    for (const s of all) assert.deepEqual(s.joinErrors, [], `${s.name} JOINed`);
    assert.equal(await connections(a, "fo"), 12);
    assert.equal(await connections(b, "fo"), 6);

    // the publisher: POST /send on B, one at a time, all along
    let seq = 0;
    let publishing = true;
    const statuses = new Map();
    const publisher = (async () => {
      while (publishing) {
        const r = await b.send({ event: "tick", args: [seq] }, "fo");
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        seq++;
        await sleep(20);
      }
    })();
    // B's readiness, polled all along
    const ready = new Map();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const st = await b.readyz().catch((e) => `error ${e.message}`);
        ready.set(st, (ready.get(st) ?? 0) + 1);
        await sleep(100);
      }
    })();

    await until("A's clients get B's broadcasts (through Redis)", () => all.every((s) => s.ticks.length >= 5));
    const cl = await onB[0].timeout(5000).emitWithAck("CLIENTS", { room: "lobby" });
    assert.equal(cl.clients.length, 18, `the cluster view before: ${JSON.stringify(cl)}`);

    const killedAt = Date.now();
    await a.kill(signal);
    const exitedAt = Date.now();
    await until(
      "every client of A reconnected to B and joined",
      () => onA.every((s) => s.connected && s.joined && s.node() === 1),
      15_000,
    );
    const failedOver = Date.now();
    const firstAfter = seq + 1; // the request in flight may have been sent before
    const seen = onA.map((s) => s.leftAt - killedAt);
    console.log(
      `# ${signal}: A exited ${exitedAt - killedAt} ms after the signal; its clients saw it leave after ${Math.min(...seen)}-${Math.max(...seen)} ms` +
        ` (${[...new Set(onA.flatMap((s) => s.disconnects))].join(", ")}); all 12 on B ${failedOver - killedAt} ms after the signal`,
    );
    for (const s of onA) assert.ok(s.disconnects.length >= 1, `${s.name} saw A leave`);
    for (const s of onB) assert.deepEqual(s.disconnects, [], `${s.name} (on B) stayed connected`);

    await sleep(1500);
    publishing = false;
    await publisher;
    const last = seq - 1;
    await until("every client got the last broadcast", () => all.every((s) => s.ticks.includes(last)), 5000);
    polling = false;
    await poller;

    assert.deepEqual([...statuses], [[202, seq]], "every POST /send on B accepted");
    assert.ok(last - firstAfter >= 10, `enough broadcasts after the fail-over (${firstAfter}..${last})`);
    const expected = Array.from({ length: last - firstAfter + 1 }, (_, k) => firstAfter + k);
    for (const s of onA) {
      const got = s.ticks.filter((t) => t >= firstAfter);
      assert.deepEqual(got, expected, `${s.name} (was on A) got each of the ${expected.length} broadcasts after the fail-over once, in order`);
    }
    for (const s of onB) {
      const from = s.ticks[0];
      const whole = Array.from({ length: last - from + 1 }, (_, k) => from + k);
      assert.deepEqual(s.ticks, whole, `${s.name} (on B) got every broadcast of the run (${from}..${last}) once, in order`);
    }
    assert.deepEqual([...ready], [[200, ready.get(200)]], `B's /readyz answered 200 throughout (${JSON.stringify([...ready])})`);

    // B's cluster view: exactly the 18 live clients, each once; none of A's old sockets
    const asked = Date.now();
    const view = await onB[0].timeout(10_000).emitWithAck("CLIENTS", { room: "lobby" });
    const answered = Date.now() - asked;
    // B counts the nodes to wait for from Redis (the request channel's subscribers): A's
    // subscription went with its connection, so B does not wait for it until the
    // cluster request timeout (redis.request_timeout, 5 s) to answer.
    assert.ok(answered < 5000, `CLIENTS answered without waiting for A (${answered} ms)`);
    const names = all.map((s) => s.name).sort();
    assert.deepEqual(view, { ok: true, room: "lobby", clients: names }, "CLIENTS on B after A left");
    assert.equal(await connections(b, "fo"), 18, "herald_connections on B");
    console.log(`# ${signal}: ${expected.length} broadcasts after the fail-over, each received by all 18 clients; /readyz of B 200 × ${ready.get(200)}; CLIENTS answered in ${answered} ms`);
  } finally {
    for (const s of all) s.disconnect();
  }
}

describe("a node of two leaves", () => {
  it("SIGTERM (graceful drain): A's clients move to B, broadcasts continue, B stays ready and forgets A's sockets", () =>
    leaves("SIGTERM"));

  it("SIGKILL: A's clients move to B, broadcasts continue, B stays ready and forgets A's sockets", () =>
    leaves("SIGKILL"));

  it("reliable (Redis store): what A delivered unacked and what was sent during the fail-over arrive on B in the batch", async () => {
    const { a, b } = await cluster();
    const sendReliable = async (text) => {
      const r = await b.send({ event: "note", rooms: ["user:rita"], args: [text], reliable: true }, "fo");
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.id;
    };
    const live = [];
    const batches = [];
    const s = io(`${a.url}/fo`, {
      auth: { token: b.token("rita", "fo") },
      forceNew: true,
      transports: ["websocket"],
      // the first attempt 2 s after A left, on B (see failoverClient)
      reconnectionDelay: 2000,
      randomizationFactor: 0,
    });
    s.io.on("reconnect_attempt", () => (s.io.uri = `${b.url}/fo`));
    s.on("note", (...args) => live.push(args.slice(0, -1))); // never acked
    s.on("batch", (messages, ack) => {
      batches.push({ at: Date.now(), messages });
      ack();
    });
    try {
      await until("rita connected to A", () => s.connected);
      const held = await sendReliable("delivered by A, not acked");
      await until("live delivery on A", () => live.length === 1);
      assert.deepEqual(live[0], ["delivered by A, not acked", held]);

      await a.kill("SIGKILL");
      const during = [await sendReliable("sent during the fail-over 1"), await sendReliable("sent during the fail-over 2")];
      const sentAt = Date.now();
      await until("rita reconnected to B and got a batch", () => batches.length === 1, 10_000);
      assert.ok(sentAt < batches[0].at, "the messages were sent before the client reached B");
      assert.deepEqual(batches[0].messages, [
        ["note", "delivered by A, not acked", held],
        ["note", "sent during the fail-over 1", during[0]],
        ["note", "sent during the fail-over 2", during[1]],
      ]);
      assert.equal(live.length, 1, "nothing of it twice");
    } finally {
      s.disconnect();
    }
  });
});
