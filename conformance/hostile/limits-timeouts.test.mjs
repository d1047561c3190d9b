// Resource limits of the real `herald` binary, each against clients that abuse it:
// a TCP connection that never sends a byte and a slowloris request (headers trickled)
// are closed by limits.header_read_timeout; an Engine.IO session that never sends
// CONNECT is closed by limits.connect_timeout; limits.max_connections_per_ip refuses
// the extra handshakes of one IP (polling and WebSocket) but not another IP's; a
// client that stops reading is disconnected at limits.max_buffered_bytes while a
// reading client in the same room gets every message. A well-behaved client is served
// throughout.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import WebSocket from "ws";
import { freePort, startHerald, sleep } from "../herald/support.mjs";
import { PROMPT_MS, assertHeraldHealthy, jwtSite, withTimeout } from "./support.mjs";
import { io } from "socket.io-client";

const KEY = "limits-key-0123456789abcdef";
const SECRET = "limits-secret-that-is-long-enough-0123456789";
const HEADER_TIMEOUT_MS = 1000;
const CONNECT_TIMEOUT_MS = 1000;
const PER_IP = 8;
const MAX_BUFFERED = 1 << 20;

let h;
before(async () => {
  h = await startHerald({
    ops: await freePort(),
    config: jwtSite(
      KEY,
      SECRET,
      `[limits]
header_read_timeout = "${HEADER_TIMEOUT_MS}ms"
connect_timeout = "${CONNECT_TIMEOUT_MS}ms"
max_connections_per_ip = ${PER_IP}
max_buffered_bytes = ${MAX_BUFFERED}`,
    ),
  });
});
after(async () => {
  await h?.stop();
});

const healthy = () => assertHeraldHealthy(h, { token: h.token("healthy", "app"), key: KEY, site: "app", room: "healthy" });

/** A TCP connection from `localAddress`; resolves with {socket, closed: Promise<ms since open>}. */
function tcp(localAddress = "127.0.0.1", port = h.port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: "127.0.0.1", localAddress });
    socket.on("error", () => {});
    let data = "";
    socket.on("data", (d) => (data += d));
    socket.once("connect", () => {
      const opened = Date.now();
      const closed = new Promise((r) => socket.once("close", () => r(Date.now() - opened)));
      resolve({ socket, closed, data: () => data });
    });
    socket.once("error", reject);
  });
}

describe("limits: header read timeout", () => {
  it("a TCP connection that never sends a byte is closed", async () => {
    const c = await tcp();
    const ms = await withTimeout(c.closed, "the idle connection is closed", HEADER_TIMEOUT_MS + PROMPT_MS);
    assert.ok(ms >= HEADER_TIMEOUT_MS * 0.5, `closed after ${ms} ms: the header timeout, not something else`);
    assert.equal(c.data(), "", "nothing is sent to a connection that sent nothing");
    await healthy();
  });

  it("a slowloris request (a header byte every 100 ms) is closed while still trickling", async () => {
    const c = await tcp();
    let sent = 0;
    let open = true;
    c.closed.then(() => (open = false));
    c.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    const header = `X-Slow: ${"a".repeat(1000)}`;
    const deadline = Date.now() + HEADER_TIMEOUT_MS + PROMPT_MS;
    while (open && Date.now() < deadline && sent < header.length) {
      c.socket.write(header[sent++]);
      await sleep(100);
    }
    assert.equal(open, false, `the server closed the trickling connection (${sent} bytes sent)`);
    assert.ok(sent < header.length, "it was closed before the headers were complete");
    // hyper answers nothing, or 408, before it closes
    assert.match(c.data(), /^(|HTTP\/1\.1 408 [^\r]*\r\n[\s\S]*)$/);
    await healthy();
  });

  it("a keep-alive connection that goes idle between requests is closed too", async () => {
    const c = await tcp();
    c.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    await withTimeout(
      (async () => {
        while (!c.data().includes("ok\n")) await sleep(10);
      })(),
      "the first answer",
    );
    const ms = await withTimeout(c.closed, "the idle keep-alive connection is closed", HEADER_TIMEOUT_MS + PROMPT_MS);
    assert.ok(ms >= HEADER_TIMEOUT_MS * 0.5, `closed after ${ms} ms`);
    await healthy();
  });

  it("an idle connection to the ops listener (/metrics) is closed too", async () => {
    const c = await tcp("127.0.0.1", h.opsPort);
    const ms = await withTimeout(c.closed, "the idle ops connection is closed", HEADER_TIMEOUT_MS + PROMPT_MS);
    assert.ok(ms >= HEADER_TIMEOUT_MS * 0.5, `closed after ${ms} ms`);
    assert.equal((await fetch(`http://127.0.0.1:${h.opsPort}/healthz`)).status, 200);
  });

  it("100 idle connections at once are all closed, and do not block a client meanwhile", async () => {
    const conns = await Promise.all(Array.from({ length: 100 }, () => tcp()));
    await healthy();
    await withTimeout(Promise.all(conns.map((c) => c.closed)), "all 100 closed", HEADER_TIMEOUT_MS + PROMPT_MS);
  });
});

describe("limits: connect timeout", () => {
  it("an Engine.IO session that never sends CONNECT is closed; one that does is not", async () => {
    const idle = new WebSocket(`ws://127.0.0.1:${h.port}/socket.io/?EIO=4&transport=websocket`);
    const idleClosed = new Promise((r) => idle.once("close", (code) => r(code)));
    idle.on("message", (m) => {
      if (String(m) === "2") idle.send("3");
    });
    const s = io(h.url, { forceNew: true, reconnection: false, auth: { token: h.token("patient", "app") }, transports: ["websocket"] });
    await withTimeout(new Promise((resolve, reject) => { s.once("connect", resolve); s.once("connect_error", reject); }), "connect");
    const code = await withTimeout(idleClosed, "the session without CONNECT is closed", CONNECT_TIMEOUT_MS + PROMPT_MS);
    assert.equal(code, 1005, "closed by the server with a close frame, no status (as Engine.IO closes)");
    await sleep(CONNECT_TIMEOUT_MS);
    assert.equal(s.connected, true, "a connected client is not touched by the connect timeout");
    s.close();
    await healthy();
  });
});

describe("limits: connections per IP", () => {
  it("the handshakes past the per-IP limit get 403, polling and WebSocket; another IP is served", async () => {
    const ip = "127.0.0.5";
    const http = await import("node:http");
    const agent = new http.Agent({ keepAlive: false, localAddress: ip });
    const handshake = () =>
      new Promise((resolve, reject) => {
        http
          .get(`${h.url}/socket.io/?EIO=4&transport=polling`, { agent }, (res) => {
            let body = "";
            res.on("data", (d) => (body += d));
            res.on("end", () => resolve({ status: res.statusCode, body }));
          })
          .on("error", reject);
      });
    const open = [];
    for (let i = 0; i < PER_IP; i++) {
      const r = await handshake();
      assert.equal(r.status, 200, r.body);
      open.push(JSON.parse(r.body.slice(1)).sid);
    }
    const refused = await handshake();
    assert.equal(refused.status, 403);
    assert.deepEqual(JSON.parse(refused.body), { code: 4, message: "Too many connections" });
    const status = await new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${h.port}/socket.io/?EIO=4&transport=websocket`, { localAddress: ip });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode));
      ws.on("open", () => resolve(101));
      ws.on("error", () => {});
    });
    assert.ok(status >= 400 && status < 500, `a WebSocket handshake past the limit is refused (${status})`);
    await healthy();
    // closing one frees a slot
    await new Promise((resolve, reject) => {
      const req = http.request(`${h.url}/socket.io/?EIO=4&transport=polling&sid=${open[0]}`, { method: "POST", agent }, (res) => {
        res.resume();
        res.on("end", resolve);
      });
      req.on("error", reject);
      req.end("1");
    });
    let again;
    for (let i = 0; i < 50; i++) {
      again = await handshake();
      if (again.status === 200) break;
      await sleep(20);
    }
    assert.equal(again.status, 200);
    agent.destroy();
  });
});

describe("limits: a client that stops reading", () => {
  it("is disconnected at max_buffered_bytes; a reading client in the same room gets every message", async () => {
    const token = h.token("reader", "app");
    const reader = io(h.url, { forceNew: true, reconnection: false, auth: { token }, transports: ["websocket"] });
    const got = [];
    reader.on("big", (i) => got.push(i));
    await withTimeout(new Promise((resolve, reject) => { reader.once("connect", resolve); reader.once("connect_error", reject); }), "reader connects");

    // the stalled client: a raw WebSocket that joins and then never reads again
    const stalled = new WebSocket(`ws://127.0.0.1:${h.port}/socket.io/?EIO=4&transport=websocket`);
    await new Promise((resolve) => stalled.once("open", resolve));
    const joined = new Promise((resolve) => stalled.on("message", (m) => String(m).startsWith("40") && resolve()));
    stalled.send(`40${JSON.stringify({ token: h.token("stalled", "app") })}`);
    await withTimeout(joined, "the stalled client joins");
    stalled._socket.pause();
    let stalledClosed = false;
    stalled._socket.once("close", () => (stalledClosed = true));

    const N = 60;
    const payload = "x".repeat(256 * 1024);
    for (let i = 0; i < N; i++) {
      const res = await fetch(`${h.url}/send?site=app`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": KEY },
        body: JSON.stringify({ event: "big", args: [i, payload] }),
      });
      assert.equal(res.status, 202);
    }
    await withTimeout(
      (async () => {
        while (got.length < N) await sleep(20);
      })(),
      `the reading client gets all ${N} messages (${N * 256} KiB)`,
      PROMPT_MS * 3,
    );
    assert.deepEqual(got, Array.from({ length: N }, (_, i) => i), "in order, none lost");
    // the stalled one was cut off: its socket is closed once we look again
    stalled._socket.resume();
    await withTimeout(
      (async () => {
        while (!stalledClosed) await sleep(20);
      })(),
      "the stalled client is disconnected",
    );
    reader.close();
    await healthy();
  });
});
