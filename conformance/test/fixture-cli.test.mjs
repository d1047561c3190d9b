// The fixture's process contract (FIXTURES.md §1.1): command line, profiles,
// loopback listeners, prompt exit on SIGTERM. Plus a smoke test of each
// profile's endpoint and options.

import assert from "node:assert/strict";
import net from "node:net";
import { io as ioClient } from "socket.io-client";
import { closeClients, conformance, get, runFixtureCommand, startFixture } from "./support/fixture.mjs";

const { describe, it, after } = conformance(import.meta.url);

after(() => closeClients());

/** Whether this machine has an IPv6 loopback to listen on. */
function hasIpv6Loopback() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(0, "::1", () => srv.close(() => resolve(true)));
  });
}

function connectsTo(host, port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

async function openPacket(url) {
  const res = await get(url);
  assert.equal(res.status, 200, `${url}: ${res.body}`);
  assert.equal(res.body[0], "0");
  return JSON.parse(res.body.slice(1));
}

describe("command line", () => {
  it("exits with a non-zero status for an unknown profile", async () => {
    const { code, output } = await runFixtureCommand(["--profile", "no-such-profile", "--port", "1"]);
    assert.notEqual(code, 0, output);
    assert.notEqual(code, null, "exited by itself");
    assert.ok(output.trim().length > 0, "prints a message");
  });

  for (const args of [[], ["--profile", "protocol"], ["--port", "1"], ["--profile", "protocol", "--port"]]) {
    it(`exits with a non-zero status for missing arguments: ${JSON.stringify(args)}`, async () => {
      const { code, output } = await runFixtureCommand(args);
      assert.notEqual(code, 0, output);
      assert.notEqual(code, null, "exited by itself");
      assert.ok(output.trim().length > 0, "prints a message");
    });
  }
});

describe("profiles", () => {
  it("protocol: /engine.io/ and /socket.io/ on one port, 300/200/1000000", async () => {
    const fx = await startFixture("protocol", { name: "fixture-cli-protocol" });
    try {
      for (const path of ["/engine.io/", "/socket.io/"]) {
        const open = await openPacket(`${fx.url}${path}?EIO=4&transport=polling`);
        assert.deepEqual(
          [open.upgrades, open.pingInterval, open.pingTimeout, open.maxPayload],
          [["websocket"], 300, 200, 1000000],
          path,
        );
      }
      const other = await get(`${fx.url}/nothing-here`);
      assert.equal(other.status, 404);
      assert.equal(other.body, "");
    } finally {
      const { killed } = await fx.stop();
      assert.equal(killed, false, "exited on SIGTERM before the SIGKILL deadline");
    }
  });

  it("eio-client: /engine.io/ only, 500/20000/100", async () => {
    const fx = await startFixture("eio-client", { name: "fixture-cli-eio-client" });
    try {
      const open = await openPacket(`${fx.url}/engine.io/?EIO=4&transport=polling`);
      assert.deepEqual([open.upgrades, open.pingInterval, open.pingTimeout, open.maxPayload], [["websocket"], 500, 20000, 100]);
      const sio = await get(`${fx.url}/socket.io/?EIO=4&transport=polling`);
      assert.equal(sio.status, 404);
    } finally {
      const { killed } = await fx.stop();
      assert.equal(killed, false, "exited on SIGTERM before the SIGKILL deadline");
    }
  });

  it("sio-client: /socket.io/ only, 2000/20000/1000000, with connection state recovery", async () => {
    const fx = await startFixture("sio-client", { name: "fixture-cli-sio-client" });
    try {
      const open = await openPacket(`${fx.url}/socket.io/?EIO=4&transport=polling`);
      assert.deepEqual([open.upgrades, open.pingInterval, open.pingTimeout, open.maxPayload], [["websocket"], 2000, 20000, 1000000]);
      const eio = await get(`${fx.url}/engine.io/?EIO=4&transport=polling`);
      assert.equal(eio.status, 404);

      const socket = ioClient(fx.url, { transports: ["websocket"], reconnection: false, forceNew: true });
      try {
        await new Promise((resolve, reject) => {
          socket.once("connect", resolve);
          socket.once("connect_error", reject);
        });
        assert.equal(typeof socket.id, "string");
        assert.equal(socket.recovered, false);
        const echoed = await socket.timeout(3000).emitWithAck("echo", { a: [1, "2", null] });
        assert.deepEqual(echoed, { a: [1, "2", null] });
        const id = await socket.timeout(3000).emitWithAck("getId");
        assert.equal(id, socket.id);
      } finally {
        socket.disconnect();
      }
    } finally {
      const { killed } = await fx.stop();
      assert.equal(killed, false, "exited on SIGTERM before the SIGKILL deadline");
    }
  });
});

describe("listeners", () => {
  it("listens on 127.0.0.1, and on ::1 when the machine has IPv6", async () => {
    const fx = await startFixture("protocol", { name: "fixture-cli-listeners" });
    try {
      assert.equal(await connectsTo("127.0.0.1", fx.port), true);
      if (await hasIpv6Loopback()) {
        assert.equal(await connectsTo("::1", fx.port), true, "accepts on [::1]");
        const open = await openPacket(`http://[::1]:${fx.port}/engine.io/?EIO=4&transport=polling`);
        assert.equal(open.pingInterval, 300);
      }
    } finally {
      await fx.stop();
    }
  });

  it("stops the whole process group on SIGTERM", async () => {
    const fx = await startFixture("protocol", { name: "fixture-cli-stop" });
    const { killed } = await fx.stop();
    assert.equal(killed, false);
    assert.equal(await connectsTo("127.0.0.1", fx.port), false, "port closed after stop");
    // no process left in the fixture's group (give the kernel a moment to reap)
    const deadline = Date.now() + 3000;
    for (;;) {
      try {
        process.kill(-fx.pid, 0);
      } catch (err) {
        assert.equal(err.code, "ESRCH");
        break;
      }
      assert.ok(Date.now() < deadline, "processes left in the fixture's process group");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
