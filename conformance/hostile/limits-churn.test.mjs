// Connection churn against the real `herald` binary: 3,000 socket.io-clients with JWTs
// valid for an hour (websocket and polling) connect, JOIN a client room, NOTIFY, get a
// POST /send and leave, 20 at a time. Afterwards no state of theirs is kept: sessions back
// to 0, open files and RSS back to the baseline. (The token-expiry timer of each JWT
// connection used to hold the socket until the token's `exp`: ~6 KB per connection kept
// for an hour, 18 MB after this churn.)
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { freePort, startHerald, signJwt, now } from "../herald/support.mjs";
import { assertHeraldHealthy, metric, stopAllAfter, waitFor } from "./support.mjs";

const KEY = "churn-key-0123456789abcdef";
const SECRET = "churn-secret-that-is-long-enough-0123456789";

const running = new Set();
stopAllAfter(running);



describe("limits: connection churn", () => {
  it("3,000 JWT clients that connect, JOIN, NOTIFY, receive and leave keep nothing: memory back to the baseline", async () => {
    const N = 3000;
    const opsPort = await freePort();
    const h = await startHerald({
      ops: opsPort,
      config: `[limits]
max_connections_per_ip = ${N}
[[sites]]
name = "app"
api_keys = ["${KEY}"]
client_rooms = true
[sites.auth]
mode = "jwt"
secret = "${SECRET}"
`,
    });
    running.add(h);
    const rss0 = h.rssKb();
    const fds0 = h.openFds();
    let next = 0;
    let received = 0;
    const one = async (i) => {
      const token = await signJwt({ sub: `user${i}`, exp: now() + 3600 }, SECRET);
      const s = io(h.url, { auth: { token }, transports: i % 2 ? ["polling"] : ["websocket"], forceNew: true, reconnection: false });
      try {
        await new Promise((resolve, reject) => {
          s.once("connect", resolve);
          s.once("connect_error", reject);
        });
        const room = `r${i % 20}`;
        const joined = await s.timeout(5000).emitWithAck("JOIN", { room, name: `n${i}` });
        assert.equal(joined.ok, true, JSON.stringify(joined));
        s.emit("NOTIFY", { room, message: { i } });
        const got = new Promise((resolve) => s.once("dm", resolve));
        const r = await fetch(`${h.url}/send?site=app`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": KEY },
          body: JSON.stringify({ event: "dm", rooms: [`user${i}`], args: [i] }),
        });
        assert.equal(r.status, 202);
        assert.equal(await got, i);
        received++;
      } finally {
        s.disconnect();
      }
    };
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < N) await one(next++);
      }),
    );
    assert.equal(received, N, "each client got its message");
    await waitFor(async () => ({ ok: (await metric(opsPort, "herald_sessions")) === 0 }), 10_000, "every session closed");
    const rssChurned = h.rssKb();
    await waitFor(async () => ({ ok: h.openFds() <= fds0 + 2, fds: h.openFds(), baseline: fds0 }), 5000, "open files back to the baseline");
    // The margin, as in limits-scale.test.mjs: jemalloc metadata and tables that keep
    // their capacity (measured: within 2-4 MiB of the start); the old leak was ~18 MB.
    const MARGIN_KB = 8 * 1024;
    const back = await waitFor(
      async () => ({ ok: h.rssKb() <= rss0 + MARGIN_KB, rssKb: h.rssKb(), baselineKb: rss0 }),
      30_000,
      `RSS back to the baseline + ${MARGIN_KB} KiB`,
    );
    console.log(`# RSS KiB: baseline ${rss0}, after ${N} connections ${rssChurned}, back to ${back.rssKb}`);
    await assertHeraldHealthy(h, { token: await signJwt({ sub: "healthy", exp: now() + 3600 }, SECRET), key: KEY, site: "app", room: "healthy" });
    await h.stop();
    running.delete(h);
  });
});
