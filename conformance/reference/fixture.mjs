#!/usr/bin/env node
// Reference fixture for the Herald conformance suite.
//
// Implements the fixture contract (shared/docs/reference/FIXTURES.md) with the
// official Node packages (`engine.io`, `socket.io`), so that the node test
// suite can be validated against the reference server:
//
//   node reference/fixture.mjs --profile <protocol|eio-client|sio-client> --port <n>
//
// It listens on [::1]:<n> (when IPv6 is available) and 127.0.0.1:<n>, never on
// an external interface, and exits promptly on SIGTERM / SIGINT.

import http from "node:http";
import process from "node:process";
import * as engine from "engine.io";
import { Server as IoServer } from "socket.io";

const PROFILES = ["protocol", "eio-client", "sio-client"];

function usage(message) {
  process.stderr.write(
    `fixture: ${message}\n` +
      `usage: fixture --profile <${PROFILES.join("|")}> --port <1-65535>\n`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    let key;
    let value;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      key = arg.slice(2, eq);
      value = arg.slice(eq + 1);
    } else if (arg === "--profile" || arg === "--port") {
      key = arg.slice(2);
      value = argv[++i];
      if (value === undefined) usage(`missing value for ${arg}`);
    } else {
      usage(`unexpected argument ${JSON.stringify(arg)}`);
    }
    if (key !== "profile" && key !== "port") usage(`unknown option --${key}`);
    opts[key] = value;
  }
  if (opts.profile === undefined) usage("missing --profile");
  if (opts.port === undefined) usage("missing --port");
  if (!PROFILES.includes(opts.profile)) usage(`unknown profile ${JSON.stringify(opts.profile)}`);
  if (!/^[0-9]+$/.test(opts.port)) usage(`invalid port ${JSON.stringify(opts.port)}`);
  const port = Number(opts.port);
  if (port < 1 || port > 65535) usage(`invalid port ${port}`);
  return { profile: opts.profile, port };
}

/** Query parameters of a request, decoded the URLSearchParams way (last value wins). */
function queryOf(req) {
  try {
    return Object.fromEntries(new URL(req.url, "http://fixture.invalid").searchParams);
  } catch {
    return {};
  }
}

function isBinary(value) {
  return Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

/** Splits socket.io handler arguments into the data arguments and the ack callback (if any). */
function splitAck(args) {
  if (args.length > 0 && typeof args[args.length - 1] === "function") {
    return { args: args.slice(0, -1), ack: args[args.length - 1] };
  }
  return { args, ack: undefined };
}

// --- HTTP plumbing -----------------------------------------------------------

/**
 * The http.Server that the engines attach to. Its first request handler answers
 * every path no engine claims with 404 and an empty body. Engine attach() calls
 * wrap it, each one intercepting only its own path prefix.
 */
function createHttpServer() {
  const server = http.createServer((req, res) => {
    res.writeHead(404, { "Content-Length": "0" });
    res.end();
  });
  server.on("clientError", (err, socket) => {
    if (socket.writable && !socket.writableEnded) {
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    } else {
      socket.destroy();
    }
  });
  return server;
}

/**
 * Refuses WebSocket upgrades on paths no engine owns. The engines are attached
 * with `destroyUpgrade: false`, so they leave foreign upgrades alone and this
 * handler is the only one that answers them.
 */
function refuseForeignUpgrades(server, prefixes) {
  server.on("upgrade", (req, socket) => {
    if (prefixes.some((p) => req.url.startsWith(p))) return;
    socket.on("error", () => {});
    socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
}

/**
 * Listens on [::1] (if available) then 127.0.0.1. The IPv6 listener is a second
 * http.Server that forwards its requests and upgrades to the main one, so both
 * addresses share the engines and their sessions.
 */
async function listenLoopback(server, port) {
  const v6 = http.createServer();
  v6.on("request", (req, res) => server.emit("request", req, res));
  v6.on("upgrade", (req, socket, head) => server.emit("upgrade", req, socket, head));
  v6.on("clientError", (err, socket) => socket.destroy());
  const listen = (srv, host) =>
    new Promise((resolve, reject) => {
      const onError = (err) => reject(err);
      srv.once("error", onError);
      srv.listen({ port, host, exclusive: true }, () => {
        srv.removeListener("error", onError);
        resolve();
      });
    });
  const addresses = [];
  try {
    await listen(v6, "::1");
    addresses.push(`[::1]:${port}`);
  } catch (err) {
    process.stderr.write(`fixture: not listening on [::1]:${port} (${err.code || err.message})\n`);
  }
  try {
    await listen(server, "127.0.0.1");
    addresses.push(`127.0.0.1:${port}`);
  } catch (err) {
    process.stderr.write(`fixture: cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
    process.exit(1);
  }
  return addresses;
}

// --- profiles ----------------------------------------------------------------

function setupProtocol(server) {
  // /engine.io/: Engine.IO echo server.
  const eio = new engine.Server({
    pingInterval: 300,
    pingTimeout: 200,
    maxHttpBufferSize: 1e6,
    upgradeTimeout: 10000,
    transports: ["polling", "websocket"],
    cors: { origin: "*" },
  });
  eio.attach(server, { path: "/engine.io/", destroyUpgrade: false });
  eio.on("connection", (socket) => {
    socket.on("message", (data) => socket.send(data));
  });

  // /socket.io/: Socket.IO server, no connection state recovery.
  const io = new IoServer(server, {
    path: "/socket.io/",
    serveClient: false,
    destroyUpgrade: false,
    pingInterval: 300,
    pingTimeout: 200,
    maxHttpBufferSize: 1e6,
    upgradeTimeout: 10000,
    connectTimeout: 1000,
    transports: ["polling", "websocket"],
    cors: { origin: "*" },
  });
  io.on("connection", (socket) => {
    socket.emit("auth", socket.handshake.auth);
    socket.on("message", (...raw) => {
      const { args } = splitAck(raw);
      socket.emit("message-back", ...args);
    });
    socket.on("message-with-ack", (...raw) => {
      const { args, ack } = splitAck(raw);
      if (ack) ack(...args);
    });
  });
  io.of("/custom").on("connection", (socket) => {
    socket.emit("auth", socket.handshake.auth);
  });

  refuseForeignUpgrades(server, ["/engine.io/", "/socket.io/"]);
}

function setupEioClient(server) {
  const eio = new engine.Server({
    pingInterval: 500,
    pingTimeout: 20000,
    maxHttpBufferSize: 100,
    upgradeTimeout: 10000,
    transports: ["polling", "websocket"],
    cookie: false,
    allowRequest: (req, callback) => {
      let deny = false;
      try {
        deny = new URL(req.url, "http://fixture.invalid").searchParams.has("deny");
      } catch {
        deny = false;
      }
      callback(null, !deny);
    },
  });
  eio.attach(server, { path: "/engine.io/", destroyUpgrade: false });

  eio.on("initial_headers", (headers) => {
    headers["set-cookie"] = [
      "1=1; Max-Age=86400",
      "2=2; Path=/; HttpOnly; Secure; SameSite=Strict",
      "3=3; Max-Age=0",
      `4=4; Expires=${new Date().toUTCString()}`,
    ];
  });

  eio.on("connection", (socket) => {
    socket.send("hi");
    socket.on("message", (data) => {
      if (data === "give binary") {
        socket.send(Buffer.from([0, 1, 2, 3, 4]));
      } else if (data === "give utf8") {
        socket.send("пойду спать всем спокойной ночи");
      } else if (data === "sendHeaders") {
        // the polling POST that carried this message (undefined over WebSocket)
        const headers = socket.transport && socket.transport.dataReq && socket.transport.dataReq.headers;
        if (headers) socket.send(JSON.stringify(headers));
      } else {
        socket.send(data);
      }
    });
  });

  refuseForeignUpgrades(server, ["/engine.io/"]);
}

function setupSioClient(server) {
  const io = new IoServer(server, {
    path: "/socket.io/",
    serveClient: false,
    destroyUpgrade: false,
    pingInterval: 2000,
    pingTimeout: 20000,
    maxHttpBufferSize: 1e6,
    upgradeTimeout: 10000,
    connectTimeout: 45000,
    transports: ["polling", "websocket"],
    connectionStateRecovery: { maxDisconnectionDuration: 120000, skipMiddlewares: true },
    // handshake requests only (engine.io calls it for requests without sid)
    allowRequest: (req, callback) => setTimeout(() => callback(null, true), 10),
  });

  io.of("/foo").on("connection", (socket) => {
    socket.on("getId", (...raw) => {
      const { ack } = splitAck(raw);
      if (ack) ack(socket.id);
    });
  });
  for (const nsp of ["/timeout_socket", "/valid", "/asd"]) {
    io.of(nsp).on("connection", () => {});
  }
  io.of("/abc").on("connection", (socket) => {
    socket.emit("handshake", socket.handshake);
  });
  io.of("/no").use((socket, next) => next(new Error("Auth failed (custom namespace)")));

  io.use((socket, next) => {
    const fail = queryOf(socket.request).fail;
    if (fail) return next(new Error("Auth failed (main namespace)"));
    next();
  });

  const isJsonBuff = (a) =>
    a !== null &&
    typeof a === "object" &&
    a.hello === "lol" &&
    isBinary(a.message) &&
    a.goodbye === "gotcha";

  io.on("connection", (socket) => {
    let abuff1 = false;
    let blob1 = false;
    let blob2 = false;
    const on = (event, handler) =>
      socket.on(event, (...raw) => {
        const { args, ack } = splitAck(raw);
        handler(args, ack);
      });

    on("hi", () => socket.emit("hi"));
    on("echo", (args, ack) => {
      if (ack) ack(args[0]);
    });
    on("ack", () => {
      socket.emit("ack", (a, b) => {
        if (a === 5 && b !== null && typeof b === "object" && b.test) socket.emit("got it");
      });
    });
    on("getAckDate", (args, ack) => {
      if (ack) ack(new Date());
    });
    on("getDate", () => socket.emit("takeDate", new Date()));
    on("getDateObj", () => socket.emit("takeDateObj", { date: new Date() }));
    on("getUtf8", () => {
      socket.emit("takeUtf8", "てすと");
      socket.emit("takeUtf8", "Я Б Г Д Ж Й");
      socket.emit("takeUtf8", "Ä ä Ü ü ß");
      socket.emit("takeUtf8", "utf8 — string");
      socket.emit("takeUtf8", "utf8 — string");
    });
    on("false", () => socket.emit("false", false));
    on("doge", () => socket.emit("doge", Buffer.from("asdfasdf", "utf8")));
    on("getbin", () => socket.emit("takebin", Buffer.from("asdfasdf", "utf8")));
    on("buffa", ([a]) => {
      if (isBinary(a)) socket.emit("buffack");
    });
    on("jsonbuff", ([a]) => {
      if (isJsonBuff(a)) socket.emit("jsonbuff-ack");
    });
    on("abuff1", ([a]) => {
      if (isBinary(a)) abuff1 = true;
    });
    on("abuff2", () => {
      if (abuff1) socket.emit("abuff2-ack");
    });
    on("blob", ([a]) => {
      if (isBinary(a)) socket.emit("back");
    });
    on("jsonblob", ([a]) => {
      if (isJsonBuff(a)) socket.emit("jsonblob-ack");
    });
    on("blob1", ([a]) => {
      if (isBinary(a)) blob1 = true;
    });
    on("blob2", ([a]) => {
      if (blob1 && a === "second") blob2 = true;
    });
    on("blob3", ([a]) => {
      if (isBinary(a) && blob1 && blob2) socket.emit("blob3-ack");
    });
    on("getHandshake", (args, ack) => {
      if (ack) ack(socket.handshake);
    });
    on("getId", (args, ack) => {
      if (ack) ack(socket.id);
    });
  });

  refuseForeignUpgrades(server, ["/socket.io/"]);
}

// --- main ----------------------------------------------------------------------

const { profile, port } = parseArgs(process.argv.slice(2));

for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(signal, () => process.exit(0));
}
process.on("uncaughtException", (err) => {
  // keep serving: one session's error must never take the fixture down
  process.stderr.write(`fixture: uncaught exception: ${(err && err.stack) || err}\n`);
});

const server = createHttpServer();
({ protocol: setupProtocol, "eio-client": setupEioClient, "sio-client": setupSioClient })[profile](server);
const addresses = await listenLoopback(server, port);
process.stdout.write(`fixture (reference, node ${process.version}): profile ${profile} listening on ${addresses.join(", ")}\n`);
