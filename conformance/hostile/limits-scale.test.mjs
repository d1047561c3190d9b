// Limits at scale against the real `herald` binary (abandoned polling sessions: in
// limits-polling.test.mjs, each file has its own time budget):
// - a reconnect storm: 5,000 socket.io-clients (two child processes) lose the server
//   (SIGTERM) and all reconnect to its restart on the same port; a broadcast then
//   reaches every one of them.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, startHerald } from "../herald/support.mjs";
import { assertHeraldHealthy, jwtSite, metric, stopAllAfter, waitFor } from "./support.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const KEY = "scale-key-0123456789abcdef";
const SECRET = "scale-secret-that-is-long-enough-0123456789";
const site = (extra = "") => jwtSite(KEY, SECRET, extra);

const running = new Set();
stopAllAfter(running);



describe("limits at scale: reconnect storm", () => {
  it("5,000 clients that lose the server all reconnect to its restart and get a broadcast", async () => {
    const N = 5000;
    const PROCS = 2;
    const opsPort = await freePort();
    const config = site(`[limits]\nmax_connections_per_ip = ${2 * N}`);
    let h = await startHerald({ ops: opsPort, config });
    running.add(h);
    const token = h.token("storm", "app", "1h");
    const children = Array.from({ length: PROCS }, () => fork(path.join(HERE, "storm-client.mjs"), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
    try {
      const ask = (child, cmd, type) =>
        new Promise((resolve) => {
          const on = (m) => {
            if (m.type === type) {
              child.off("message", on);
              resolve(m);
            }
          };
          child.on("message", on);
          child.send(cmd);
        });
      const status = async () => {
        const all = await Promise.all(children.map((c) => ask(c, { cmd: "status" }, "status")));
        return all.reduce((a, s) => ({ connected: a.connected + s.connected, reconnects: a.reconnects + s.reconnects, received: a.received + s.received }), { connected: 0, reconnects: 0, received: 0 });
      };
      await Promise.all(children.map((c) => ask(c, { cmd: "start", url: h.url, token, n: N / PROCS }, "connected")));
      assert.equal(await metric(opsPort, "herald_sessions"), N);

      // the storm: the server goes away, every client retries, the server comes back
      const port = h.port;
      await h.stop();
      running.delete(h);
      await waitFor(async () => { const s = await status(); return { ok: s.connected === 0, ...s }; }, 10_000, "every client saw the server go");
      h = await startHerald({ ops: opsPort, config, port });
      running.add(h);
      const back = await waitFor(async () => { const s = await status(); return { ok: s.connected === N, ...s }; }, 60_000, `all ${N} clients reconnected`);
      assert.equal(back.reconnects, N, "each client reconnected once");
      assert.equal(await metric(opsPort, "herald_sessions"), N);

      const res = await fetch(`${h.url}/send?site=app`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-API-Key": KEY },
        body: JSON.stringify({ event: "storm", args: ["after the storm"] }),
      });
      assert.equal(res.status, 202);
      await waitFor(async () => { const s = await status(); return { ok: s.received === N, ...s }; }, 20_000, `the broadcast reached all ${N}`);
      await assertHeraldHealthy(h, { token: h.token("healthy", "app"), key: KEY, site: "app", room: "healthy" });
    } finally {
      for (const c of children) {
        if (c.connected) c.send({ cmd: "close" });
      }
      await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : null)));
    }
  });
});
