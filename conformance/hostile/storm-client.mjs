// A child process of limits-scale.test.mjs: N socket.io-client sockets (WebSocket only)
// that reconnect by themselves. Talks to its parent over IPC:
//   parent → {cmd: "start", url, token, n}     child → {type: "connected", n}   (all N up)
//   child  → {type: "status", connected, reconnects, received}   on {cmd: "status"}
//   parent → {cmd: "close"}                    child exits
import { io } from "socket.io-client";

const sockets = [];
let received = 0;
let reconnects = 0;

process.on("message", (msg) => {
  if (msg.cmd === "start") {
    let up = 0;
    for (let i = 0; i < msg.n; i++) {
      const s = io(msg.url, {
        forceNew: true,
        transports: ["websocket"],
        auth: { token: msg.token },
        reconnectionDelay: 500,
        reconnectionDelayMax: 2000,
        randomizationFactor: 0.5,
        timeout: 20_000,
      });
      let first = true;
      s.on("connect", () => {
        if (first) {
          first = false;
          if (++up === msg.n) process.send({ type: "connected", n: up });
        } else {
          reconnects++;
        }
      });
      s.on("storm", () => received++);
      sockets.push(s);
    }
  } else if (msg.cmd === "status") {
    process.send({ type: "status", connected: sockets.filter((s) => s.connected).length, reconnects, received });
  } else if (msg.cmd === "close") {
    for (const s of sockets) s.close();
    setTimeout(() => process.exit(0), 100);
  }
});

process.on("disconnect", () => process.exit(0));
