// A real browser against the real `herald` binary: headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) loads a page served here on loopback,
// which loads the socket.io-client browser bundle from node_modules, connects to herald
// (another origin, so polling goes through CORS) with a JWT and shows what is pushed with
// POST /send. Once upgraded to WebSocket, once polling-only, and once with a token herald
// refuses (the page shows the connect_error reason).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { CONFORMANCE, startHerald, signJwt, now } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";
// The machine has no network: without these Chromium waits on services it cannot reach.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const KEY = "browser-api-key-0123456789abcdef";
const SECRET = "browser-test-secret-that-is-long-enough-0123";
const BUNDLE = readFileSync(path.join(CONFORMANCE, "node_modules/socket.io-client/dist/socket.io.min.js"));

// The page: connects with the options in its query string (?opts=<json>) and lists every
// `news` event with the transport it came over; a connect_error shows its message.
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>herald browser test</title>
<script src="/socket.io.min.js"></script></head>
<body>
<p id="state">loading</p>
<p id="error"></p>
<ul id="log"></ul>
<script>
  const params = new URLSearchParams(location.search);
  const { url, ...opts } = JSON.parse(params.get("opts"));
  const socket = io(url, { reconnection: false, ...opts });
  window.socket = socket;
  socket.on("connect", () => {
    document.getElementById("state").textContent = "connected";
  });
  socket.on("connect_error", (err) => {
    document.getElementById("state").textContent = "refused";
    document.getElementById("error").textContent = err.message;
  });
  socket.on("news", (text) => {
    const li = document.createElement("li");
    li.textContent = text;
    li.dataset.transport = socket.io.engine.transport.name;
    document.getElementById("log").appendChild(li);
  });
</script>
</body></html>`;

function servePage() {
  return new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      const p = new URL(req.url, "http://x").pathname;
      if (p === "/socket.io.min.js") {
        res.writeHead(200, { "Content-Type": "text/javascript" });
        res.end(BUNDLE);
      } else if (p === "/") {
        res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
        res.end(PAGE);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

describe("herald in a real browser (headless Chromium)", () => {
  let page, server, herald, context, profile, pageOrigin;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/setup.sh (installs Debian's chromium)`);
    server = await servePage();
    pageOrigin = `http://127.0.0.1:${server.address().port}`;
    herald = await startHerald({
      config: `[engineio]
cors_origins = ["${pageOrigin}"]
[[sites]]
name = "web"
api_keys = ["${KEY}"]
[sites.auth]
mode = "jwt"
secret = "${SECRET}"
`,
    });
    profile = mkdtempSync(path.join(os.tmpdir(), "herald-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await herald?.stop();
    server?.close();
  });

  const open = async (opts) => {
    const q = encodeURIComponent(JSON.stringify({ url: herald.url, ...opts }));
    await page.goto(`${pageOrigin}/?opts=${q}`);
    await page.waitForFunction(() => document.getElementById("state").textContent !== "loading", null, { timeout: 10_000 });
    return page.textContent("#state");
  };

  const send = async (body) => {
    const res = await fetch(`${herald.url}/send?site=web`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${KEY}` },
      body: JSON.stringify(body),
    });
    assert.equal(res.status, 202, await res.text());
  };

  const shown = async () => {
    await page.waitForSelector("#log li", { timeout: 10_000 });
    return page.$$eval("#log li", (lis) => lis.map((li) => [li.textContent, li.dataset.transport]));
  };

  it("receives a push over WebSocket after the upgrade", async () => {
    assert.equal(await open({ auth: { token: herald.token("alice", "web") } }), "connected");
    await page.waitForFunction(() => window.socket.io.engine.transport.name === "websocket", null, { timeout: 10_000 });
    await send({ rooms: ["alice"], event: "news", args: ["hello over websocket"] });
    assert.deepEqual(await shown(), [["hello over websocket", "websocket"]]);
  });

  it("receives a push polling-only", async () => {
    assert.equal(await open({ auth: { token: herald.token("bob", "web") }, transports: ["polling"] }), "connected");
    await send({ event: "news", args: ["hello over polling"] });
    assert.deepEqual(await shown(), [["hello over polling", "polling"]]);
    assert.equal(await page.evaluate(() => window.socket.io.engine.transport.name), "polling");
  });

  it("shows the connect_error reason of a refused token", async () => {
    const forged = await signJwt({ sub: "mallory", exp: now() + 3600 }, "not-the-site-secret-0123456789abcdef");
    assert.equal(await open({ auth: { token: forged } }), "refused");
    assert.equal(await page.textContent("#error"), "invalid signature");
    await send({ event: "news", args: ["not for mallory"] });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await page.$$eval("#log li", (lis) => lis.length), 0);
  });
});
