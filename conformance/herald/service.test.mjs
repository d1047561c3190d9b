// The real `herald` binary with a config file, driven by socket.io-client and fetch:
// JWT auth on CONNECT, POST /send to the broadcast room and to user rooms, API key and
// body errors, form bodies, /disconnect.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { io } from "socket.io-client";
import { HERALD, freePort, waitForPort, sleep, startHerald } from "./support.mjs";

const KEY = "test-api-key-0123456789abcdef";
const SECRET = "a-test-secret-that-is-long-enough-0123456789";

/** Waits until the dev-mode banner (token and curl) is printed. */
async function banner(h) {
  const deadline = Date.now() + 5000;
  while (!h.output().includes("-d '") && Date.now() < deadline) await sleep(20);
  return h.output();
}

describe("herald service", () => {
  let child, port, opsPort, url, configPath, log = "";

  before(async () => {
    port = await freePort();
    opsPort = await freePort();
    url = `http://127.0.0.1:${port}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), "herald-test-"));
    configPath = path.join(dir, "herald.toml");
    writeFileSync(
      configPath,
      `listen = "127.0.0.1:${port}"
[ops]
listen = "127.0.0.1:${opsPort}"
[[sites]]
name = "app"
namespace = "/"
api_keys = ["${KEY}"]
[sites.auth]
mode = "jwt"
secret = "${SECRET}"

[[sites]]
name = "other"
namespace = "/other"
api_keys = ["other-api-key-0123456789abcdef"]
broadcast_room = "everyone"
user_room_prefix = "u:"
[sites.auth]
mode = "jwt"
secret = "another-secret-that-is-long-enough-0123456789"
`,
    );
    child = spawn(HERALD, ["--config", configPath], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
    await waitForPort(port, child);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });

  const token = (sub, site = "app", ttl = "1h") =>
    execFileSync(HERALD, ["--config", configPath, "token", "--site", site, "--sub", sub, "--ttl", ttl])
      .toString()
      .trim();

  const connect = (opts = {}, nsp = "/") =>
    new Promise((resolve, reject) => {
      const s = io(url + nsp, { forceNew: true, reconnection: false, ...opts });
      const events = [];
      s.onAny((event, ...args) => events.push([event, ...args]));
      s.on("connect", () => resolve({ s, events }));
      s.on("connect_error", (e) => reject(Object.assign(e, { socket: s })));
    });

  const send = (body, { key = KEY, site = "app", type = "application/json" } = {}) =>
    fetch(`${url}/send?site=${site}`, {
      method: "POST",
      headers: { "Content-Type": type, ...(key ? { Authorization: `Bearer ${key}` } : {}) },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  async function until(fn, ms = 3000) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (fn()) return;
      await sleep(10);
    }
    assert.fail("condition not met in time");
  }

  it("delivers /send to the broadcast room and to one user's room only", async () => {
    const alice = await connect({ auth: { token: token("alice") } });
    const bob = await connect({ query: { token: token("bob") }, transports: ["websocket"] });
    let res = await send({ event: "news", args: ["hello", { n: 1 }] });
    assert.equal(res.status, 202);
    assert.match((await res.json()).id, /^.{10,}$/);
    await until(() => alice.events.length === 1 && bob.events.length === 1);
    assert.deepEqual(alice.events[0], ["news", "hello", { n: 1 }]);
    res = await send({ rooms: ["alice"], event: "private", args: [42] });
    assert.equal(res.status, 202);
    await until(() => alice.events.length === 2);
    assert.deepEqual(alice.events[1], ["private", 42]);
    await sleep(100);
    assert.equal(bob.events.length, 1, "bob must not get alice's message");
    // except
    res = await send({ except: ["alice"], event: "not-alice" });
    await until(() => bob.events.length === 2);
    await sleep(50);
    assert.equal(alice.events.length, 2);
    alice.s.close();
    bob.s.close();
  });

  it("accepts form-urlencoded bodies", async () => {
    const carol = await connect({ auth: { token: token("carol") } });
    const res = await send("event=ping&rooms=carol&args=%5B1%2C%22x%22%5D", {
      type: "application/x-www-form-urlencoded",
    });
    assert.equal(res.status, 202);
    await until(() => carol.events.length === 1);
    assert.deepEqual(carol.events[0], ["ping", 1, "x"]);
    carol.s.close();
  });

  it("refuses bad tokens with a precise connect_error and delivers them nothing", async () => {
    const cases = [
      [{}, "missing token"],
      [{ auth: { token: "abc" } }, "malformed token"],
      [{ auth: { token: token("mallory", "other") } }, "invalid signature"],
    ];
    for (const [opts, message] of cases) {
      await assert.rejects(connect(opts), (e) => {
        assert.match(e.message, new RegExp(message));
        e.socket.close();
        return true;
      });
    }
  });

  it("answers API errors with JSON and the right status", async () => {
    const check = async (res, status, code) => {
      assert.equal(res.status, status);
      const body = await res.json();
      assert.equal(body.error.code, code, JSON.stringify(body));
      assert.equal(typeof body.error.message, "string");
    };
    await check(await send({ event: "x" }, { key: null }), 401, "missing_api_key");
    await check(await send({ event: "x" }, { key: "wrong-key-0123456789" }), 401, "invalid_api_key");
    await check(await send({ event: "x" }, { site: "nope" }), 404, "unknown_site");
    await check(await send("{not json"), 400, "bad_json");
    await check(await send({ event: "x" }, { type: "text/plain" }), 415, "unsupported_media_type");
    await check(await send({ args: [1] }), 422, "missing_event");
    await check(await send({ event: "disconnect" }), 422, "reserved_event");
    await check(await send({ event: "batch" }), 422, "reserved_event");
    await check(await send({ event: "x", rooms: Array.from({ length: 1001 }, (_, i) => `r${i}`) }), 422, "too_many_rooms");
    await check(await send("x".repeat(2_000_000)), 413, "payload_too_large");
    // the other site's key is not valid here, and X-API-Key works too
    const res = await fetch(`${url}/send?site=other`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-API-Key": "other-api-key-0123456789abcdef" },
      body: JSON.stringify({ event: "hi" }),
    });
    assert.equal(res.status, 202);
  });

  it("sites have their own namespace, broadcast room and user-room prefix", async () => {
    const dave = await connect({ auth: { token: token("dave", "other") } }, "/other");
    let res = await fetch(`${url}/send?site=other&apiKey=other-api-key-0123456789abcdef`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ rooms: ["u:dave"], event: "direct" }),
    });
    assert.equal(res.status, 202);
    await until(() => dave.events.length === 1);
    assert.deepEqual(dave.events[0], ["direct"]);
    dave.s.close();
  });

  it("POST /disconnect disconnects a user's sockets", async () => {
    const erin = await connect({ auth: { token: token("erin") } });
    const gone = new Promise((r) => erin.s.on("disconnect", r));
    const res = await fetch(`${url}/disconnect?site=app`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ user: "erin" }),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).disconnected, 1);
    await gone;
  });

  it("exposes Prometheus metrics and health on the ops listener", async () => {
    const m = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    const value = (re) => Number((m.match(re) ?? [])[1] ?? NaN);
    assert.ok(value(/herald_auth_failures_total\{site="app",reason="malformed"\} (\d+)/) >= 1, m);
    assert.ok(value(/herald_auth_failures_total\{site="app",reason="missing_token"\} (\d+)/) >= 1, m);
    assert.ok(value(/herald_send_requests_total\{status="202"\} (\d+)/) >= 3, m);
    assert.ok(value(/herald_send_requests_total\{status="401"\} (\d+)/) >= 2, m);
    assert.ok(value(/herald_messages_sent_total\{site="app"\} (\d+)/) >= 3, m);
    assert.ok(value(/herald_connects_total\{site="app",result="ok"\} (\d+)/) >= 3, m);
    assert.equal((await fetch(`http://127.0.0.1:${opsPort}/healthz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${opsPort}/readyz`)).status, 200);
  });

  it("counts sockets by site and transport, and the events clients send", async () => {
    const scrape = async () => {
      const m = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      return (re) => Number((m.match(re) ?? [])[1] ?? NaN);
    };
    const before = await scrape();
    const received0 = before(/herald_messages_received_total\{site="app"\} (\d+)/);
    const ws = await connect({ auth: { token: token("ws-user") }, transports: ["websocket"] });
    const polling = await connect({ auth: { token: token("polling-user") }, transports: ["polling"] });
    const upgraded = await connect({ auth: { token: token("upgrading-user") } });
    await until(() => upgraded.s.io.engine.transport.name === "websocket");
    ws.s.emit("hello", 1);
    ws.s.emit("hello", 2);
    polling.s.emit("hello", 3);
    let m;
    const deadline = Date.now() + 3000;
    do {
      await sleep(20);
      m = await scrape();
    } while (Date.now() < deadline && m(/herald_messages_received_total\{site="app"\} (\d+)/) < received0 + 3);
    assert.equal(m(/herald_messages_received_total\{site="app"\} (\d+)/), received0 + 3);
    assert.equal(
      m(/herald_site_connections\{site="app",transport="websocket"\} (\d+)/) -
        before(/herald_site_connections\{site="app",transport="websocket"\} (\d+)/),
      2,
    );
    assert.equal(
      m(/herald_site_connections\{site="app",transport="polling"\} (\d+)/) -
        before(/herald_site_connections\{site="app",transport="polling"\} (\d+)/),
      1,
    );
    assert.ok(m(/herald_sessions_by_transport\{transport="websocket"\} (\d+)/) >= 2);
    for (const c of [ws, polling, upgraded]) c.s.close();
  });

  it("check-config redacts secrets", () => {
    const out = execFileSync(HERALD, ["--config", configPath, "check-config"], { stdio: ["ignore", "pipe", "pipe"] }).toString();
    assert.ok(!out.includes(KEY) && !out.includes(SECRET), out);
    assert.match(out, /<redacted>/);
  });
});

describe("herald allowed_origins", () => {
  it("refuses handshakes from other origins with 403, on polling and websocket", async () => {
    const h = await startHerald({
      config: `[[sites]]\nname = "dev"\nallowed_origins = ["https://app.example.com", "https://*.example.org"]\n[sites.auth]\nmode = "none"\n`,
    });
    const { port } = h;
    try {
      const poll = (origin) =>
        fetch(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`, origin ? { headers: { Origin: origin } } : {});
      let res = await poll("https://evil.example.com");
      assert.equal(res.status, 403);
      assert.deepEqual(await res.json(), { code: 4, message: "Origin not allowed" });
      assert.equal((await poll("null")).status, 403);
      assert.equal((await poll("https://app.example.com")).status, 200);
      assert.equal((await poll("https://a.example.org")).status, 200);
      assert.equal((await poll(null)).status, 200, "non-browser clients send no Origin");
      const { default: WebSocket } = await import("ws");
      const code = await new Promise((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, { origin: "https://evil.example.com" });
        ws.on("unexpected-response", (_req, r) => resolve(r.statusCode));
        ws.on("open", () => resolve(101));
        ws.on("error", () => {});
      });
      assert.equal(code, 403);
    } finally {
      await h.stop();
    }
  });
});

describe("herald auth mode token", () => {
  it("issues single-use tokens with POST /tokens", async () => {
    const key = "token-site-key-0123456789abcdef";
    const h = await startHerald({
      config: `[[sites]]\nname = "media"\napi_keys = ["${key}"]\n[sites.auth]\nmode = "token"\ntoken_ttl = "30s"\n`,
    });
    const { port } = h;
    const api = (p, body, k = key) =>
      fetch(`http://127.0.0.1:${port}${p}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(k ? { "X-API-Key": k } : {}) },
        body: JSON.stringify(body),
      });
    const connectWith = (token) =>
      new Promise((resolve, reject) => {
        const s = io(`http://127.0.0.1:${port}`, { auth: { token }, reconnection: false, forceNew: true });
        s.on("connect", () => resolve(s));
        s.on("connect_error", (e) => { s.close(); reject(e); });
      });
    try {
      assert.equal((await api("/tokens?site=media", { user: "zoe" }, null)).status, 401);
      const res = await api("/tokens?site=media", { user: "zoe" });
      assert.equal(res.status, 201);
      const { token, expires_in } = await res.json();
      assert.equal(expires_in, 30);
      const s = await connectWith(token);
      const got = new Promise((r) => s.on("direct", r));
      assert.equal((await api("/send?site=media", { rooms: ["zoe"], event: "direct", args: ["hi zoe"] })).status, 202);
      assert.equal(await got, "hi zoe");
      await assert.rejects(connectWith(token), /invalid or already used token/);
      await assert.rejects(connectWith("forged-token"), /invalid or already used token/);
      s.close();
    } finally {
      await h.stop();
    }
  });
});

describe("herald auth mode url", () => {
  it("asks the site's endpoint who a token is, joins the rooms it lists, and reports its failures", async () => {
    const key = "url-site-key-0123456789abcdef";
    const seen = [];
    let slow = false;
    // The site's auth endpoint: "Token good-<user>" is that user, in room "team-<user>".
    const authServer = http.createServer((req, res) => {
      seen.push({ url: req.url, authorization: req.headers.authorization });
      const m = /^Token good-(\w+)$/.exec(req.headers.authorization ?? "");
      if (req.headers.authorization === "Token redirect") {
        res.writeHead(302, { location: "http://127.0.0.1:1/" }).end();
      } else if (req.headers.authorization === "Token slow") {
        slow = true; // never answered: herald's timeout must fire
      } else if (m) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ user: m[1], rooms: [`team-${m[1]}`] }));
      } else {
        res.writeHead(401).end();
      }
    });
    await new Promise((r) => authServer.listen(0, "127.0.0.1", r));
    const authUrl = `http://127.0.0.1:${authServer.address().port}/check?app=chat`;
    const h = await startHerald({
      ops: await freePort(),
      config: `[[sites]]\nname = "chat"\napi_keys = ["${key}"]\n[sites.auth]\nmode = "url"\nurl = "${authUrl}"\nscheme = "Token"\ntimeout = "500ms"\n`,
    });
    const base = `http://127.0.0.1:${h.port}`;
    const connectWith = (token) =>
      new Promise((resolve, reject) => {
        const s = io(base, { auth: { token }, reconnection: false, forceNew: true });
        s.on("connect", () => resolve(s));
        s.on("connect_error", (e) => { s.close(); reject(e); });
      });
    const send = (body) =>
      fetch(`${base}/send?site=chat`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": key },
        body: JSON.stringify(body),
      });
    try {
      const ann = await connectWith("good-ann");
      const bob = await connectWith("good-bob");
      assert.deepEqual(seen[0], { url: "/check?app=chat", authorization: "Token good-ann" });
      const annGot = [], bobGot = [];
      ann.onAny((e, ...a) => annGot.push([e, ...a]));
      bob.onAny((e, ...a) => bobGot.push([e, ...a]));
      const toTeam = new Promise((r) => ann.once("team", r));
      assert.equal((await send({ rooms: ["team-ann"], event: "team", args: ["for ann's team"] })).status, 202);
      const toUser = new Promise((r) => bob.once("direct", r));
      assert.equal((await send({ rooms: ["bob"], event: "direct", args: ["for bob"] })).status, 202);
      assert.equal(await toTeam, "for ann's team");
      assert.equal(await toUser, "for bob");
      await sleep(100);
      assert.deepEqual(annGot, [["team", "for ann's team"]]);
      assert.deepEqual(bobGot, [["direct", "for bob"]]);

      await assert.rejects(connectWith("bad"), /^Error: token rejected$/);
      await assert.rejects(connectWith("redirect"), /^Error: auth service unavailable$/);
      await assert.rejects(connectWith("slow"), /^Error: auth service timeout$/);
      assert.ok(slow);
      const metrics = await (await fetch(`http://127.0.0.1:${h.opsPort}/metrics`)).text();
      assert.match(metrics, /herald_auth_failures_total\{site="chat",reason="url_rejected"\} 1/);
      assert.match(metrics, /herald_auth_failures_total\{site="chat",reason="url_timeout"\} 1/);
      assert.match(h.output(), /redirects are not followed/);
      assert.doesNotMatch(h.output(), /good-ann/, "tokens never reach the log");
      ann.close();
      bob.close();
    } finally {
      await h.stop();
      authServer.closeAllConnections();
      authServer.close();
    }
  });
});

describe("herald connection limits", () => {
  it("refuses handshakes past max_connections_per_ip with 403 and frees the slot on close", async () => {
    const h = await startHerald({
      config: `[limits]\nmax_connections_per_ip = 2\n[[sites]]\nname = "dev"\n[sites.auth]\nmode = "none"\n`,
    });
    const { port } = h;
    try {
      const base = `http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`;
      const open = async () => {
        const res = await fetch(base);
        return { status: res.status, body: await res.text() };
      };
      const a = await open();
      const b = await open();
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      const c = await open();
      assert.equal(c.status, 403);
      assert.deepEqual(JSON.parse(c.body), { code: 4, message: "Too many connections" });
      const sid = JSON.parse(a.body.slice(1)).sid;
      await fetch(`${base}&sid=${sid}`, { method: "POST", body: "1" });
      let again;
      for (let i = 0; i < 50; i++) {
        again = await open();
        if (again.status === 200) break;
        await sleep(20);
      }
      assert.equal(again.status, 200);
    } finally {
      await h.stop();
    }
  });
});

describe("herald shutdown", () => {
  it("SIGTERM tells clients to go, drains and exits 0", async () => {
    const { child, port } = await startHerald({ config: `[[sites]]\nname = "dev"\n[sites.auth]\nmode = "none"\n` });
    const s = io(`http://127.0.0.1:${port}`, { reconnection: false, transports: ["websocket"] });
    await new Promise((resolve, reject) => { s.on("connect", resolve); s.on("connect_error", reject); });
    const reason = new Promise((resolve) => s.on("disconnect", resolve));
    const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    assert.equal(await reason, "transport close");
    assert.equal(await exited, 0);
  });
});

describe("herald with no configuration", () => {
  it("prints a token and a curl that deliver a message to a client", async () => {
    const h = await startHerald();
    const { port } = h;
    try {
      const out = await banner(h);
      const token = out.match(/token: "([^"]+)"/)[1];
      const curl = out.slice(out.indexOf("curl"));
      const key = curl.match(/Authorization: Bearer ([^']+)'/)[1];
      const body = curl.match(/-d '([^']+)'/)[1];
      const s = io(`http://127.0.0.1:${port}`, { auth: { token }, reconnection: false });
      await new Promise((resolve, reject) => {
        s.on("connect", resolve);
        s.on("connect_error", reject);
      });
      const got = new Promise((resolve) => s.on("hello", resolve));
      const res = await fetch(`http://127.0.0.1:${port}/send?site=default`, {
        method: "POST",
        headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
        body,
      });
      assert.equal(res.status, 202);
      assert.equal(await got, "world");
      s.close();
    } finally {
      await h.stop();
    }
  });
});

describe("herald --https", () => {
  it("serves Socket.IO and the API over TLS with a self-signed certificate", async () => {
    const https = await import("node:https");
    const h = await startHerald({ args: ["--https", "--ops-listen", "127.0.0.1:0"] });
    const { port } = h;
    try {
      const out = await banner(h);
      assert.match(out, /curl -k -X POST 'https:\/\//);
      const status = await new Promise((resolve, reject) => {
        https.get({ host: "127.0.0.1", port, path: "/healthz", rejectUnauthorized: false }, (r) => resolve(r.statusCode)).on("error", reject);
      });
      assert.equal(status, 200);
      const token = out.match(/token: "([^"]+)"/)[1];
      const s = io(`https://127.0.0.1:${port}`, { auth: { token }, reconnection: false, rejectUnauthorized: false, transports: ["websocket"] });
      await new Promise((resolve, reject) => {
        s.on("connect", resolve);
        s.on("connect_error", reject);
      });
      assert.ok(s.connected);
      s.close();
    } finally {
      await h.stop();
    }
  });
});
