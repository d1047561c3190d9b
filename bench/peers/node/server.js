// The reference Node socket.io 4.8 server with the bench handlers of bench/README.md.
//
//   node server.js --port N
//
// Listens on 127.0.0.1:N, Engine.IO path /socket.io/, pingInterval 25 s, pingTimeout 20 s,
// maxHttpBufferSize 1e6, websocket and polling. Prints "listening PORT" when ready.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

const args = process.argv.slice(2);
const i = args.indexOf("--port");
const port = i >= 0 ? Number(args[i + 1]) : 0;

const httpServer = http.createServer();
const io = new Server(httpServer, {
  path: "/socket.io/",
  pingInterval: 25000,
  pingTimeout: 20000,
  maxHttpBufferSize: 1e6,
  transports: ["polling", "websocket"],
  serveClient: false,
});

io.on("connection", (socket) => {
  socket.on("join", (room, ack) => {
    socket.join(String(room));
    if (typeof ack === "function") ack("ok");
  });
  socket.on("echo", (arg, ack) => {
    if (typeof ack === "function") ack(arg);
  });
  socket.on("broadcast", (room, payload, ack) => {
    socket.to(String(room)).emit("msg", payload);
    if (typeof ack === "function") ack("ok");
  });
});

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});

process.on("SIGTERM", () => process.exit(0));
