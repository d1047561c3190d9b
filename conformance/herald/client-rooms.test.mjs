// Client room messaging on the real `herald` binary with socket.io-client: JOIN / NOTIFY /
// LEAVE / CLIENTS between clients, the lobby form (bare room string), every guard rail
// with its exact error reply (ack and ERROR event), a site without client rooms, the
// event names POST /send refuses, and a backend push to a client room's internal name.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startHerald, sleep, until } from "./support.mjs";

const KEY = "rooms-api-key-0123456789abcdef";
const SECRET = "a-client-rooms-secret-long-enough-0123456789";

const auth = `[sites.auth]
mode = "jwt"
secret = "${SECRET}"
`;

const CONFIG = `
[[sites]]
name = "app"
namespace = "/"
api_keys = ["${KEY}"]
client_rooms = true
${auth}
[sites.client_room_limits]
max_rooms = 3
max_message_bytes = 64
max_name_bytes = 16
max_room_bytes = 20
ops_per_second = 50
burst = 100

[[sites]]
name = "slow"
namespace = "/slow"
client_rooms = true
${auth}
[sites.client_room_limits]
ops_per_second = 1
burst = 3

[[sites]]
name = "plain"
namespace = "/plain"
${auth}
`;

const BAD_ROOM = "room names are 1 to 20 characters of A-Z a-z 0-9 _ . : @ -";
const BAD_NAME = "names are 1 to 16 bytes of UTF-8 without control characters";
const notJoined = (room) => `this connection has not joined room ${JSON.stringify(room)}: JOIN it first`;
const err = (code, message) => ({ error: { code, message } });

describe("herald client rooms", () => {
  let h;
  const sockets = [];

  before(async () => {
    h = await startHerald({ config: CONFIG });
  });

  after(async () => {
    for (const s of sockets) s.close();
    await h?.stop();
  });

  /** A connected socket of user `sub` on `site`, recording every event it gets. */
  const connect = (sub, { site = "app", nsp = "/" } = {}) =>
    new Promise((resolve, reject) => {
      const s = io(h.url + nsp, {
        forceNew: true,
        reconnection: false,
        transports: ["websocket"],
        auth: { token: h.token(sub, site) },
      });
      sockets.push(s);
      const events = [];
      s.onAny((event, ...args) => events.push([event, ...args]));
      s.on("connect", () => resolve({ s, events, of: (name) => events.filter((e) => e[0] === name) }));
      s.on("connect_error", reject);
    });

  const call = (c, event, ...args) => c.s.timeout(3000).emitWithAck(event, ...args);

  /** Emits without an ack and returns the ERROR event that answers it. */
  async function errorEvent(c, event, ...args) {
    const before = c.of("ERROR").length;
    c.s.emit(event, ...args);
    await until(() => c.of("ERROR").length > before, 3000, `ERROR for ${event}`);
    return c.of("ERROR")[before][1];
  }

  const send = (body) =>
    fetch(`${h.url}/send?site=app`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${KEY}` },
      body: JSON.stringify(body),
    });

  it("JOIN, NOTIFY, CLIENTS and LEAVE between clients", async () => {
    const alice = await connect("alice");
    const bob = await connect("bob");
    const carol = await connect("carol");
    assert.deepEqual(await call(alice, "JOIN", { room: "lobby", name: "Alice" }), {
      ok: true,
      room: "lobby",
      name: "Alice",
    });
    // Without an ack a successful JOIN is silent.
    bob.s.emit("JOIN", { room: "lobby", name: "Bob" });
    await until(async () => (await call(alice, "CLIENTS", { room: "lobby" })).clients.length === 2);
    assert.deepEqual(await call(alice, "CLIENTS", { room: "lobby" }), {
      ok: true,
      room: "lobby",
      clients: ["Alice", "Bob"],
    });

    assert.deepEqual(await call(alice, "NOTIFY", { room: "lobby", message: { text: "hi", n: [1, 2] } }), {
      ok: true,
      room: "lobby",
    });
    await until(() => bob.of("EVENT").length === 1);
    assert.deepEqual(bob.of("EVENT")[0], ["EVENT", { sender: "Alice", room: "lobby", message: { text: "hi", n: [1, 2] } }]);

    // CLIENTS without an ack answers with a CLIENTS event, to the asker only.
    bob.s.emit("CLIENTS", { room: "lobby" });
    await until(() => bob.of("CLIENTS").length === 1);
    assert.deepEqual(bob.of("CLIENTS")[0], ["CLIENTS", { room: "lobby", clients: ["Alice", "Bob"] }]);

    // bob answers without an ack: alice gets it; the notifier never gets its own EVENT.
    bob.s.emit("NOTIFY", { room: "lobby", message: "hello back" });
    await until(() => alice.of("EVENT").length === 1);
    assert.deepEqual(alice.of("EVENT")[0], ["EVENT", { sender: "Bob", room: "lobby", message: "hello back" }]);
    await sleep(100);
    assert.equal(bob.of("EVENT").length, 1, "bob got his own EVENT");
    assert.deepEqual(carol.events, [], "a non-member got something");
    assert.equal(alice.of("CLIENTS").length, 0);

    // After LEAVE bob is no member: not listed, no EVENT.
    assert.deepEqual(await call(bob, "LEAVE", { room: "lobby" }), { ok: true, room: "lobby" });
    assert.deepEqual((await call(alice, "CLIENTS", "lobby")).clients, ["Alice"]);
    await call(carol, "JOIN", { room: "lobby", name: "Carol" });
    await call(alice, "NOTIFY", { room: "lobby", message: 3 });
    await until(() => carol.of("EVENT").length === 1);
    assert.deepEqual(carol.of("EVENT")[0][1], { sender: "Alice", room: "lobby", message: 3 });
    await sleep(100);
    assert.equal(bob.of("EVENT").length, 1, "bob got a message after LEAVE");
    // Disconnecting leaves every room.
    carol.s.close();
    await until(async () => (await call(alice, "CLIENTS", "lobby")).clients.length === 1);
  });

  it("lobby form: JOIN and LEAVE with a bare room string, named by the user id", async () => {
    const dave = await connect("dave");
    const erin = await connect("erin");
    assert.deepEqual(await call(dave, "JOIN", "lobby2"), { ok: true, room: "lobby2", name: "dave" });
    erin.s.emit("JOIN", "lobby2");
    await until(async () => (await call(dave, "CLIENTS", "lobby2")).clients.length === 2);
    assert.deepEqual((await call(dave, "CLIENTS", "lobby2")).clients, ["dave", "erin"]);
    await call(erin, "NOTIFY", { room: "lobby2", message: { hi: true } });
    await until(() => dave.of("EVENT").length === 1);
    assert.deepEqual(dave.of("EVENT")[0][1], { sender: "erin", room: "lobby2", message: { hi: true } });
    assert.deepEqual(await call(erin, "LEAVE", "lobby2"), { ok: true, room: "lobby2" });
    assert.deepEqual(await call(erin, "JOIN", "lobby2"), { ok: true, room: "lobby2", name: "erin" });
    dave.s.emit("LEAVE", "lobby2");
    await until(async () => (await call(erin, "CLIENTS", "lobby2")).clients.length === 1);
    assert.deepEqual((await call(erin, "CLIENTS", "lobby2")).clients, ["erin"]);
  });

  it("a client cannot reach user rooms, the broadcast room or socket-id rooms", async () => {
    const frank = await connect("frank");
    const grace = await connect("grace"); // a member, to show the messages do go out
    const target = await connect("target"); // user room "target", in "allusers"
    for (const room of ["target", "allusers", target.s.id]) {
      assert.equal((await call(frank, "JOIN", { room, name: "F" })).ok, true, room);
      assert.equal((await call(grace, "JOIN", { room, name: "G" })).ok, true, room);
      await call(frank, "NOTIFY", { room, message: room });
    }
    await until(() => grace.of("EVENT").length === 3);
    assert.deepEqual(grace.of("EVENT").map((e) => e[1].room), ["target", "allusers", target.s.id]);
    // The user room and the broadcast room still reach their sockets only from the API.
    assert.equal((await send({ rooms: ["target"], event: "direct" })).status, 202);
    await until(() => target.of("direct").length === 1);
    await sleep(100);
    assert.deepEqual(target.events, [["direct"]], "the user got a client's message");
    assert.equal(frank.of("direct").length, 0, "a client JOIN put frank in a user room");
  });

  it("NOTIFY without JOIN, LEAVE and CLIENTS of a room not joined", async () => {
    const c = await connect("henry");
    assert.deepEqual(await call(c, "NOTIFY", { room: "lobby", message: 1 }), err("not_joined", notJoined("lobby")));
    assert.deepEqual(await call(c, "LEAVE", "lobby"), err("not_joined", notJoined("lobby")));
    assert.deepEqual(await call(c, "CLIENTS", { room: "lobby" }), err("not_joined", notJoined("lobby")));
    assert.deepEqual(await errorEvent(c, "NOTIFY", { room: "lobby", message: 1 }), {
      op: "NOTIFY",
      room: "lobby",
      code: "not_joined",
      message: notJoined("lobby"),
    });
  });

  it("refuses bad room names and bad member names", async () => {
    const c = await connect("ivan");
    for (const room of ["a b", "", "x".repeat(21), "é", "a/b", "#general"]) {
      assert.deepEqual(await call(c, "JOIN", { room, name: "I" }), err("bad_room", BAD_ROOM), room);
    }
    assert.deepEqual(await errorEvent(c, "JOIN", "a b"), { op: "JOIN", room: "a b", code: "bad_room", message: BAD_ROOM });
    assert.deepEqual(await call(c, "JOIN", { room: "x".repeat(20), name: "I" }), { ok: true, room: "x".repeat(20), name: "I" });
    for (const name of ["", "n".repeat(17), "é".repeat(9), "new\nline"]) {
      assert.deepEqual(await call(c, "JOIN", { room: "names", name }), err("bad_name", BAD_NAME), name);
    }
    assert.deepEqual(await errorEvent(c, "JOIN", { room: "names", name: "" }), {
      op: "JOIN",
      room: "names",
      code: "bad_name",
      message: BAD_NAME,
    });
  });

  it("refuses an oversized message and binary", async () => {
    const a = await connect("judy");
    const b = await connect("karl");
    await call(a, "JOIN", { room: "big", name: "J" });
    await call(b, "JOIN", { room: "big", name: "K" });
    // 62 characters + quotes = 64 bytes of JSON: the limit, accepted.
    assert.deepEqual(await call(a, "NOTIFY", { room: "big", message: "x".repeat(62) }), { ok: true, room: "big" });
    assert.deepEqual(
      await call(a, "NOTIFY", { room: "big", message: "x".repeat(63) }),
      err("message_too_large", "the message is 65 bytes of JSON; at most 64 are allowed"),
    );
    assert.deepEqual(await errorEvent(a, "NOTIFY", { room: "big", message: { list: "y".repeat(100) } }), {
      op: "NOTIFY",
      room: "big",
      code: "message_too_large",
      message: "the message is 111 bytes of JSON; at most 64 are allowed",
    });
    const binary = await call(a, "NOTIFY", { room: "big", message: Buffer.from([1, 2, 3]) });
    assert.equal(binary.error.code, "bad_args");
    assert.match(binary.error.message, /binary data is not supported/);
    await sleep(100);
    assert.equal(b.of("EVENT").length, 1, "only the accepted message was relayed");
  });

  it("caps the rooms per connection", async () => {
    const c = await connect("leo");
    for (const room of ["r1", "r2", "r3"]) assert.equal((await call(c, "JOIN", { room, name: "L" })).ok, true);
    const tooMany = "a connection may be in at most 3 client rooms: LEAVE one first";
    assert.deepEqual(await call(c, "JOIN", { room: "r4", name: "L" }), err("too_many_rooms", tooMany));
    assert.deepEqual(await errorEvent(c, "JOIN", "r4"), { op: "JOIN", room: "r4", code: "too_many_rooms", message: tooMany });
    // Joining a room again renames, it does not count twice.
    assert.deepEqual(await call(c, "JOIN", { room: "r1", name: "Leo" }), { ok: true, room: "r1", name: "Leo" });
    assert.deepEqual((await call(c, "CLIENTS", "r1")).clients, ["Leo"]);
    await call(c, "LEAVE", "r2");
    assert.equal((await call(c, "JOIN", { room: "r4", name: "L" })).ok, true);
  });

  it("rate-limits operations per connection", async () => {
    const c = await connect("mia", { site: "slow", nsp: "/slow" });
    const limited = "more than 1 client room operations per second (bursts of 3): slow down and retry";
    // Five at once: the burst of 3 passes, the rest are refused.
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => call(c, "JOIN", "fast")));
    assert.deepEqual(answers.slice(0, 3).map((a) => a.ok), [true, true, true]);
    assert.deepEqual(answers.slice(3), [err("rate_limited", limited), err("rate_limited", limited)]);
    assert.deepEqual(await errorEvent(c, "CLIENTS", "fast"), { op: "CLIENTS", room: "fast", code: "rate_limited", message: limited });
    // One token a second comes back; the connection is still fine.
    await sleep(1100);
    assert.deepEqual(await call(c, "CLIENTS", "fast"), { ok: true, room: "fast", clients: ["mia"] });
    assert.equal(c.s.connected, true);
  });

  it("answers malformed arguments with bad_args and keeps the connection", async () => {
    const c = await connect("nina");
    const cases = [
      ["JOIN", [42], "the argument has the wrong type: JOIN takes"],
      ["JOIN", [null], "the argument has the wrong type"],
      ["JOIN", [["lobby"]], "the argument has the wrong type"],
      ["JOIN", [{}], "\"room\" is missing"],
      ["JOIN", [{ room: 5 }], "\"room\" must be a string"],
      ["JOIN", [{ room: "ok", name: 5 }], "\"name\" must be a string"],
      ["NOTIFY", ["lobby"], "the argument has the wrong type: NOTIFY takes"],
      ["NOTIFY", [{ room: "lobby" }], "\"message\" is missing"],
      ["LEAVE", [true], "LEAVE takes"],
      ["CLIENTS", [{ rooms: "x" }], "\"room\" is missing: CLIENTS takes"],
      ["JOIN", [], "no argument given"],
    ];
    for (const [event, args, says] of cases) {
      const r = await call(c, event, ...args);
      assert.equal(r.error?.code, "bad_args", `${event} ${JSON.stringify(args)}: ${JSON.stringify(r)}`);
      assert.ok(r.error.message.includes(says), `${event} ${JSON.stringify(args)}: ${r.error.message}`);
    }
    const e = await errorEvent(c, "JOIN", 42);
    assert.deepEqual(e, {
      op: "JOIN",
      room: null,
      code: "bad_args",
      message: 'the argument has the wrong type: JOIN takes {"room": "<room>", "name": "<name>"} or a room name string',
    });
    assert.equal(c.s.connected, true);
    assert.equal((await call(c, "JOIN", "still-fine")).ok, true);
  });

  it("a site without client_rooms answers client_rooms_disabled", async () => {
    const c = await connect("olga", { site: "plain", nsp: "/plain" });
    const disabled = "client rooms are disabled on this site (the server's site config needs client_rooms = true)";
    assert.deepEqual(await call(c, "JOIN", { room: "lobby", name: "O" }), err("client_rooms_disabled", disabled));
    assert.deepEqual(await call(c, "CLIENTS", "lobby"), err("client_rooms_disabled", disabled));
    assert.deepEqual(await errorEvent(c, "NOTIFY", { room: "lobby", message: 1 }), {
      op: "NOTIFY",
      room: "lobby",
      code: "client_rooms_disabled",
      message: disabled,
    });
  });

  it("POST /send refuses EVENT, CLIENTS and ERROR", async () => {
    for (const event of ["EVENT", "CLIENTS", "ERROR"]) {
      const res = await send({ rooms: ["room:lobby"], event, args: [{ sender: "admin" }] });
      assert.equal(res.status, 422, event);
      const body = await res.json();
      assert.equal(body.error.code, "reserved_event");
      assert.equal(
        body.error.message,
        `the event name "${event}" is reserved for client room messaging (clients relay to each other as EVENT, CLIENTS and ERROR answer them); use another event name`,
      );
    }
    // Other spellings are ordinary events.
    assert.equal((await send({ rooms: ["nobody"], event: "event" })).status, 202);
  });

  it("a backend reaches a client room's members through its internal name room:<room>", async () => {
    const p = await connect("paul");
    const q = await connect("quinn");
    await call(p, "JOIN", { room: "news", name: "P" });
    assert.equal((await send({ rooms: ["room:news"], event: "headline", args: [{ id: 7 }] })).status, 202);
    await until(() => p.of("headline").length === 1);
    assert.deepEqual(p.of("headline")[0], ["headline", { id: 7 }]);
    // The client-facing name is not the Socket.IO room.
    assert.equal((await send({ rooms: ["news"], event: "wrong" })).status, 202);
    await sleep(100);
    assert.equal(p.of("wrong").length, 0);
    assert.equal(q.of("headline").length, 0);
  });
});
