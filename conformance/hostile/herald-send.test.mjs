// Hostile input to herald's publish API (POST /send, /send/batch, /disconnect, /tokens):
// API keys that almost match or sit in odd places, bodies of the wrong shape or type,
// nested without bound or not UTF-8, form bodies with unknown fields, sizes over the
// limit (announced or not), batches with one bad message, wrong methods. Each gets its
// exact status and error code, nothing is delivered for a refused request, and a
// well-behaved client still connects and receives a push afterwards.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startHerald, sleep } from "../herald/support.mjs";
import { PROMPT_MS, assertHeraldHealthy, rawExchange, withTimeout } from "./support.mjs";

const KEY = "hostile-send-key-0123456789abcdef";
const OTHER_KEY = "hostile-other-key-0123456789abcdef";
const SECRET = "hostile-send-secret-that-is-long-enough-0123";

let h;
let watcher; // a client in the broadcast room that must see only what was accepted
let seen = [];
before(async () => {
  h = await startHerald({
    config: `[[sites]]
name = "app"
api_keys = ["${KEY}"]
[sites.auth]
mode = "jwt"
secret = "${SECRET}"

[[sites]]
name = "other"
namespace = "/other"
api_keys = ["${OTHER_KEY}"]
[sites.auth]
mode = "jwt"
secret = "other-secret-that-is-long-enough-0123456789"
`,
  });
  watcher = io(h.url, { forceNew: true, reconnection: false, auth: { token: h.token("watcher", "app") } });
  watcher.onAny((...a) => seen.push(a));
  await withTimeout(new Promise((resolve, reject) => { watcher.once("connect", resolve); watcher.once("connect_error", reject); }), "watcher");
});
after(async () => {
  watcher?.close();
  await h?.stop();
});

const send = (body, { key = KEY, type = "application/json", path = "/send?site=app", headers = {}, method = "POST" } = {}) =>
  fetch(`${h.url}${path}`, {
    method,
    headers: { ...(type ? { "Content-Type": type } : {}), ...(key ? { "X-API-Key": key } : {}), ...headers },
    body: method === "GET" ? undefined : typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });

async function expectError(res, status, code) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get("content-type"), "application/json");
  const body = JSON.parse(text);
  assert.equal(body.error.code, code, text);
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.length > 0);
}

/** Nothing refused reached the watcher, and a healthy client gets a push. */
async function healthy() {
  await sleep(50);
  const leaked = seen.filter(([event]) => event !== "health");
  seen = [];
  assert.deepEqual(leaked, [], "nothing refused was delivered");
  await assertHeraldHealthy(h, { token: h.token("healthy", "app"), key: KEY, site: "app", room: "healthy" });
  seen = seen.filter(([event]) => event !== "health");
}

describe("hostile /send: API keys", () => {
  it("keys that almost match are refused with 401 invalid_api_key", async () => {
    for (const key of [KEY.slice(0, -1), `${KEY}x`, KEY.toUpperCase(), `${KEY.slice(0, -1)}F`, OTHER_KEY, "x"]) {
      await expectError(await send({ event: "leak" }, { key }), 401, "invalid_api_key");
    }
    await healthy();
  });

  it("missing, empty or foreign-scheme keys are refused with 401", async () => {
    await expectError(await send({ event: "leak" }, { key: null }), 401, "missing_api_key");
    await expectError(await send({ event: "leak" }, { key: null, headers: { Authorization: "Bearer " } }), 401, "missing_api_key");
    await expectError(await send({ event: "leak" }, { key: null, headers: { Authorization: `Basic ${KEY}` } }), 401, "missing_api_key");
    await expectError(await send({ event: "leak" }, { key: null, headers: { Authorization: KEY } }), 401, "missing_api_key");
    await healthy();
  });

  it("a wrong Bearer key is not rescued by a right X-API-Key or apiKey", async () => {
    await expectError(
      await send({ event: "leak" }, { key: KEY, headers: { Authorization: "Bearer wrong-key-0123456789abcdef" }, path: `/send?site=app&apiKey=${KEY}` }),
      401,
      "invalid_api_key",
    );
    await healthy();
  });

  it("a key in a header with bytes that are not visible ASCII is refused", async () => {
    const res = await rawExchange(
      h.port,
      `POST /send?site=app HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-API-Key: ${KEY}\xff\r\nContent-Length: 15\r\n\r\n{"event":"lk"}`,
      { ms: 1000 },
    );
    assert.equal(res.status, 401, res.head);
    await healthy();
  });

  it("an unknown, missing or repeated site is answered before the key is looked at", async () => {
    await expectError(await send({ event: "leak" }, { path: "/send" }), 400, "missing_site");
    await expectError(await send({ event: "leak" }, { path: "/send?site=" }), 404, "unknown_site");
    await expectError(await send({ event: "leak" }, { path: `/send?site=${"s".repeat(5000)}` }), 404, "unknown_site");
    // the last value wins, as everywhere else: the key of `app` is not valid for `other`
    await expectError(await send({ event: "leak" }, { path: "/send?site=app&site=other" }), 401, "invalid_api_key");
    await healthy();
  });
});

describe("hostile /send: bodies", () => {
  it("bodies of the wrong shape get 400 bad_json or 422 with their codes", async () => {
    const cases = [
      ["[]", 400, "bad_json"],
      ['"event"', 400, "bad_json"],
      ["null", 400, "bad_json"],
      ["1", 400, "bad_json"],
      ["", 400, "bad_json"],
      ['{"event":1}', 400, "bad_json"],
      ['{"event":"x","rooms":[1]}', 400, "bad_json"],
      ['{"event":"x","rooms":{"a":1}}', 400, "bad_json"],
      ['{"event":"x","except":[null]}', 400, "bad_json"],
      ['{"event":"x","unknown":1}', 400, "bad_json"],
      ['{"event":"a","event":"b"}', 400, "bad_json"],
      ['{"event":"x"} trailing', 400, "bad_json"],
      ['\ufeff{"event":"x"}', 400, "bad_json"],
      ['{"event":"x","args":{}}', 422, "bad_args"],
      ['{"event":"x","args":"a"}', 422, "bad_args"],
      ['{"event":""}', 422, "missing_event"],
      ["{}", 422, "missing_event"],
    ];
    for (const [body, status, code] of cases) await expectError(await send(body), status, code);
    // `"args": null` is taken as no arguments
    assert.equal((await send('{"event":"no-args","rooms":["nobody"],"args":null}')).status, 202);
    await healthy();
  });

  it("every reserved event name is refused with 422 reserved_event", async () => {
    for (const event of ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", "batch", "resync", "auth_expired", "error"]) {
      await expectError(await send({ event }), 422, "reserved_event");
    }
    await healthy();
  });

  it("JSON nested 100,000 deep is refused, in the body and in args", async () => {
    await expectError(await send(`${"[".repeat(100_000)}${"]".repeat(100_000)}`), 400, "bad_json");
    await expectError(await send(`{"event":"x","args":[${"[".repeat(100_000)}${"]".repeat(100_000)}]}`), 400, "bad_json");
    await expectError(await send(`{"event":"x","args":[${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}]}`), 400, "bad_json");
    await healthy();
  });

  it("a body that is not UTF-8 is refused with 400 bad_json", async () => {
    await expectError(await send(Buffer.from('{"event":"\xff\xfe"}', "latin1")), 400, "bad_json");
    await expectError(await send(Buffer.concat([Buffer.from('{"event":"x","args":["'), Buffer.from([0xc3, 0x28]), Buffer.from('"]}')])), 400, "bad_json");
    await healthy();
  });

  it("wrong content types get 415, whatever the body", async () => {
    for (const type of ["text/plain", "application/jsonx", "multipart/form-data; boundary=x", "", "application/xml"]) {
      await expectError(await send({ event: "leak" }, { type: type || null }), 415, "unsupported_media_type");
    }
    // parameters and case are fine
    const res = await send({ event: "typed", rooms: ["nobody"] }, { type: "Application/JSON; charset=utf-8" });
    assert.equal(res.status, 202);
    await healthy();
  });

  it("form bodies with unknown fields or bad args are refused; odd percent-encoding is taken literally", async () => {
    const form = "application/x-www-form-urlencoded";
    await expectError(await send("event=x&admin=1", { type: form }), 400, "unknown_field");
    await expectError(await send("event=x&args=%5B", { type: form }), 400, "bad_json");
    await expectError(await send("event=x&args=%7B%7D", { type: form }), 422, "bad_args");
    await expectError(await send("event=disconnect", { type: form }), 422, "reserved_event");
    const res = await send("event=%zz&rooms=nobody", { type: form });
    assert.equal(res.status, 202, "an undecodable escape stays as it is (WHATWG form decoding)");
    await healthy();
  });
});

describe("hostile /send: sizes and methods", () => {
  it("a body over 1 MiB gets 413, announced or not", async () => {
    const big = `{"event":"x","args":["${"a".repeat(1 << 20)}"]}`;
    await expectError(await send(big), 413, "payload_too_large");
    // chunked: no Content-Length to look at
    const chunk = "a".repeat(256 * 1024);
    const chunks = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("");
    let res = await rawExchange(
      h.port,
      `POST /send?site=app HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`,
    );
    assert.equal(res.status, 413, res.head);
    // announced as 100 MB: refused without waiting for it
    res = await rawExchange(
      h.port,
      `POST /send?site=app HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"event":"x"`,
      { ms: 3000 },
    );
    assert.equal(res.status, 413, `an announced 100 MB body is refused at once (${res.head})`);
    await healthy();
  });

  it("too many rooms, or a batch of too many messages, get 422", async () => {
    await expectError(await send({ event: "x", except: Array.from({ length: 1001 }, (_, i) => `r${i}`) }), 422, "too_many_rooms");
    await expectError(await send({ messages: Array.from({ length: 1001 }, () => ({ event: "x" })) }, { path: "/send/batch?site=app" }), 422, "too_many_messages");
    await healthy();
  });

  it("a batch with one bad message delivers none of them", async () => {
    await expectError(
      await send({ messages: [{ event: "leak-1" }, { event: "disconnect" }, { event: "leak-2" }] }, { path: "/send/batch?site=app" }),
      422,
      "reserved_event",
    );
    await expectError(await send({ messages: [{ event: "leak-1" }, 42] }, { path: "/send/batch?site=app" }), 400, "bad_json");
    await expectError(await send({ messages: {} }, { path: "/send/batch?site=app" }), 400, "bad_json");
    await healthy();
  });

  it("other methods get 405; /disconnect and /tokens refuse bad bodies", async () => {
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      await expectError(await send({ event: "leak" }, { method }), 405, "method_not_allowed");
    }
    await expectError(await send({}, { path: "/disconnect?site=app" }), 422, "missing_target");
    await expectError(await send({ user: 42 }, { path: "/disconnect?site=app" }), 400, "bad_json");
    await expectError(await send({ user: "x" }, { path: "/tokens?site=app" }), 404, "no_token_auth");
    await healthy();
  });

  it("a /send whose body never completes does not hold other requests", async () => {
    const slow = rawExchange(
      h.port,
      `POST /send?site=app HTTP/1.1\r\nHost: x\r\nX-API-Key: ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"event":`,
      { ms: 500 },
    );
    await healthy();
    assert.equal((await slow).status, null, "no answer before the body is complete");
  });
});
