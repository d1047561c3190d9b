//! A worker process: K clients from one source address, driven by the coordinator
//! over stdin (commands) and stdout (one JSON line per answer).

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::LocalSet;

use crate::args::Args;
use crate::polling::{Conn, Polling};
use crate::proto::{
    Packet, classify, emit_head, emit_with_ack, is_measured, now_us, parse_t, stamped_into,
};
use crate::stats::{Stats, hist_to_json};
use crate::ws::{self, Ws};

/// What a client does once connected.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    /// WebSocket, reads and measures every `msg` / `push`.
    Ws,
    /// Long-polling, the same.
    Polling,
    /// WebSocket that stops reading after joining (tiny receive buffer).
    Slow,
}

/// The kind of global client `i` (the coordinator uses the same rule to count receivers).
pub fn kind_of(i: u64, polling_every: u64, slow_every: u64) -> Kind {
    if slow_every > 0 && i % slow_every == slow_every - 1 {
        Kind::Slow
    } else if polling_every > 0 && i.is_multiple_of(polling_every) {
        Kind::Polling
    } else {
        Kind::Ws
    }
}

struct Ctx {
    server: SocketAddr,
    src: IpAddr,
    mode: String,
    room: String,
    stats: Stats,
    sem: Semaphore,
    pending: Cell<u64>,
    all_connected: Notify,
    /// Echo window (start, end) in µs since the epoch.
    go: watch::Receiver<Option<(u64, u64)>>,
    payload_size: usize,
}

pub fn main(a: Args) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    LocalSet::new().block_on(&rt, run(a))
}

async fn run(a: Args) -> Result<(), String> {
    let server: SocketAddr = a.get("server")?;
    let src: IpAddr = a.get("source")?;
    let clients: u64 = a.get("clients")?;
    let base: u64 = a.get_or("base", 0)?;
    let polling_every: u64 = a.get_or("polling-every", 0)?;
    let slow_every: u64 = a.get_or("slow-every", 0)?;
    let (go_tx, go_rx) = watch::channel(None);
    let ctx = Rc::new(Ctx {
        server,
        src,
        mode: a.str("mode")?,
        room: a.str_or("room", "bench"),
        stats: Stats::new(),
        sem: Semaphore::new(a.get_or("concurrency", 64)?),
        pending: Cell::new(clients),
        all_connected: Notify::new(),
        go: go_rx,
        payload_size: a.get_or("payload", 100)?,
    });

    // push: one single-use token per client, from POST /tokens.
    let mut tokens = Vec::new();
    if ctx.mode == "push" {
        let key = a.str("api-key")?;
        let site = a.str_or("site", "bench");
        let mut conn = Conn::open(server, src).await?;
        for i in base..base + clients {
            let body = conn
                .request(
                    "POST",
                    &format!("/tokens?site={site}"),
                    &[("x-api-key", &key), ("content-type", "application/json")],
                    Some(format!("{{\"user\":\"u{i}\"}}")),
                )
                .await?;
            let v: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| format!("/tokens answer: {e}"))?;
            tokens.push(
                v["token"]
                    .as_str()
                    .ok_or("no token in /tokens answer")?
                    .to_string(),
            );
        }
    }

    for (n, i) in (base..base + clients).enumerate() {
        let kind = kind_of(i, polling_every, slow_every);
        let auth = tokens.get(n).map(|t| format!("{{\"token\":\"{t}\"}}"));
        tokio::task::spawn_local(client(ctx.clone(), kind, auth));
    }
    if clients > 0 {
        ctx.all_connected.notified().await;
    }
    let s = &ctx.stats;
    say(json!({
        "ev": "connected",
        "ok": s.connected.get(),
        "failed": s.failed.get(),
        "first_us": s.first_connect_us.get(),
        "last_us": s.last_connect_us.get(),
        "errors": s.errors_json(),
    }));

    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("go") => {
                let start = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let end = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
                let _ = go_tx.send(Some((start, end)));
                say(json!({"ev": "go"}));
            }
            Some("progress") => say(json!({
                "received": s.received.get(),
                "last_recv_us": s.last_recv_us.get(),
                "alive": s.alive.get(),
            })),
            Some("reset") => {
                s.reset();
                say(json!({"ev": "reset"}));
            }
            Some("report") => say(json!({
                "received": s.received.get(),
                "last_recv_us": s.last_recv_us.get(),
                "alive": s.alive.get(),
                "hist": hist_to_json(&s.hist.borrow()),
                "errors": s.errors_json(),
            })),
            _ => say(json!({"error": format!("unknown command {line:?}")})),
        }
    }
    // stdin closed: the coordinator is done. Exiting resets every connection.
    std::process::exit(0)
}

fn say(v: serde_json::Value) {
    println!("{v}");
}

async fn client(ctx: Rc<Ctx>, kind: Kind, auth: Option<String>) {
    let joined = ctx.mode != "idle" && ctx.mode != "echo" && ctx.mode != "push";
    let permit = ctx.sem.acquire().await.expect("semaphore open");
    let connecting = async {
        match kind {
            Kind::Ws | Kind::Slow => {
                let rcvbuf = (kind == Kind::Slow).then_some(4096);
                connect_ws(&ctx, rcvbuf, auth.as_deref(), joined)
                    .await
                    .map(Either::Ws)
            }
            Kind::Polling => connect_polling(&ctx, joined).await.map(Either::Polling),
        }
    };
    let conn = match tokio::time::timeout(std::time::Duration::from_secs(30), connecting).await {
        Ok(c) => c,
        Err(_) => Err(format!("{kind:?} connect (and join) took over 30 s")),
    };
    drop(permit);
    let s = &ctx.stats;
    match &conn {
        Ok(_) => {
            s.connected.set(s.connected.get() + 1);
            s.alive.set(s.alive.get() + 1);
            let now = now_us();
            s.last_connect_us.set(s.last_connect_us.get().max(now));
        }
        Err(e) => {
            s.failed.set(s.failed.get() + 1);
            s.error(e.clone());
        }
    }
    ctx.pending.set(ctx.pending.get() - 1);
    if ctx.pending.get() == 0 {
        ctx.all_connected.notify_one();
    }
    let result = match conn {
        Err(_) => return,
        Ok(Either::Ws(ws)) if kind == Kind::Slow => {
            // Stops reading: hold the socket open until the process exits.
            let _ws = ws;
            std::future::pending::<()>().await;
            Ok(())
        }
        Ok(Either::Ws(ws)) if ctx.mode == "echo" => echo_loop(&ctx, ws).await,
        Ok(Either::Ws(ws)) => ws_loop(&ctx, ws).await,
        Ok(Either::Polling(p)) => polling_loop(&ctx, p).await,
    };
    s.alive.set(s.alive.get() - 1);
    if let Err(e) = result {
        s.error(e);
    }
}

enum Either {
    Ws(Ws),
    Polling(Polling),
}

async fn connect_ws(
    ctx: &Ctx,
    rcvbuf: Option<u32>,
    auth: Option<&str>,
    join: bool,
) -> Result<Ws, String> {
    let s = &ctx.stats;
    s.first_connect_us
        .set(s.first_connect_us.get().min(now_us()));
    let mut ws = ws::connect(ctx.server, ctx.src, rcvbuf, auth).await?;
    if join {
        let join = emit_with_ack(0, "join", &format!("\"{}\"", ctx.room));
        ws::call(&mut ws, 0, "join", &join, |_| ()).await?;
    }
    Ok(ws)
}

async fn connect_polling(ctx: &Ctx, join: bool) -> Result<Polling, String> {
    let s = &ctx.stats;
    s.first_connect_us
        .set(s.first_connect_us.get().min(now_us()));
    let mut p = Polling::connect(ctx.server, ctx.src).await?;
    if join {
        p.call(0, "join", &format!("\"{}\"", ctx.room), |_| {})
            .await?;
    }
    Ok(p)
}

fn measure(ctx: &Ctx, text: &str) {
    if let Packet::Event(ev) = classify(text)
        && is_measured(ev)
        && let Some(t) = parse_t(ev)
    {
        ctx.stats.record(t);
    }
}

async fn ws_loop(ctx: &Ctx, mut ws: Ws) -> Result<(), String> {
    loop {
        let Some(t) = ws.next_text().await? else {
            return Err("closed by the server".into());
        };
        match classify(t) {
            Packet::Ping => ws.send("3").await?,
            Packet::Close => return Err("closed by the server".into()),
            _ => measure(ctx, t),
        }
    }
}

async fn polling_loop(ctx: &Ctx, mut p: Polling) -> Result<(), String> {
    loop {
        let mut pong = false;
        for pkt in p.poll().await? {
            match classify(&pkt) {
                Packet::Ping => pong = true,
                Packet::Close => return Err("closed by the server".into()),
                _ => measure(ctx, &pkt),
            }
        }
        if pong {
            p.post("3".into()).await?;
        }
    }
}

/// Closed loop: `echo` with an ack, the next one when the ack arrives, inside the window.
async fn echo_loop(ctx: &Ctx, mut ws: Ws) -> Result<(), String> {
    let mut go = ctx.go.clone();
    let (start, end) = loop {
        if let Some(w) = *go.borrow_and_update() {
            break w;
        }
        tokio::select! {
            r = go.changed() => r.map_err(|_| "coordinator gone")?,
            t = ws.next_text() => match t? {
                None => return Err("closed by the server".into()),
                Some(t) if classify(t) == Packet::Ping => ws.send("3").await?,
                Some(_) => {}
            },
        }
    };
    let wait = start.saturating_sub(now_us());
    tokio::time::sleep(std::time::Duration::from_micros(wait)).await;
    let mut id = 1;
    let mut out = String::with_capacity(ctx.payload_size + 32);
    let mut now = now_us();
    while now < end {
        out.clear();
        emit_head(&mut out, id, "echo");
        stamped_into(&mut out, now, ctx.payload_size);
        out.push(']');
        let t = ws::call(&mut ws, id, "echo", &out, parse_t).await?;
        now = now_us();
        if let Some(t) = t
            && now <= end
        {
            ctx.stats.record_at(t, now);
        }
        id += 1;
    }
    ws_loop(ctx, ws).await
}
