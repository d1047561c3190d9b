//! The coordinator: starts the workers, runs one scenario, prints the result line.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::task::LocalSet;

use crate::args::Args;
use crate::proto::{Packet, classify, now_us, stamped};
use crate::stats::{hist_add_json, new_hist};
use crate::worker::{Kind, kind_of};
use crate::ws;

/// One worker process.
pub struct Worker {
    pub pid: u32,
    pub clients: u64,
    pub source: IpAddr,
    _child: Child,
    stdin: ChildStdin,
    out: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    /// The next JSON line the worker prints.
    pub async fn read(&mut self, timeout: Duration) -> Result<Value, String> {
        let line = tokio::time::timeout(timeout, self.out.next_line())
            .await
            .map_err(|_| format!("worker {} did not answer within {timeout:?}", self.pid))?
            .map_err(|e| format!("worker {}: {e}", self.pid))?
            .ok_or_else(|| format!("worker {} exited", self.pid))?;
        serde_json::from_str(&line).map_err(|e| format!("worker {} said {line:?}: {e}", self.pid))
    }

    /// Sends a command and reads the answer.
    pub async fn cmd(&mut self, line: &str) -> Result<Value, String> {
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| format!("worker {}: {e}", self.pid))?;
        self.read(Duration::from_secs(30)).await
    }
}

/// utime + stime of a process, in clock ticks (1/100 s).
pub fn cpu_ticks(pid: u32) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    let Some(rest) = s.rfind(')').map(|i| &s[i + 2..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields after the command: state is index 0; utime 11, stime 12.
    let u: u64 = f.get(11).and_then(|x| x.parse().ok()).unwrap_or(0);
    let st: u64 = f.get(12).and_then(|x| x.parse().ok()).unwrap_or(0);
    u + st
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU use of the generator (this process and its workers) and of the server.
pub struct CpuMark {
    at_us: u64,
    gen_ticks: u64,
    server_ticks: u64,
}

impl CpuMark {
    pub fn take(workers: &[Worker], server_pid: u32) -> CpuMark {
        CpuMark {
            at_us: now_us(),
            gen_ticks: cpu_ticks(std::process::id())
                + workers.iter().map(|w| cpu_ticks(w.pid)).sum::<u64>(),
            server_ticks: cpu_ticks(server_pid),
        }
    }

    /// (generator cores, server cores) used since `self`.
    pub fn since(&self, workers: &[Worker], server_pid: u32) -> (f64, f64) {
        let now = CpuMark::take(workers, server_pid);
        let secs = (now.at_us.saturating_sub(self.at_us)) as f64 / 1e6;
        if secs <= 0.0 {
            return (0.0, 0.0);
        }
        (
            (now.gen_ticks - self.gen_ticks) as f64 / 100.0 / secs,
            (now.server_ticks.saturating_sub(self.server_ticks)) as f64 / 100.0 / secs,
        )
    }
}

pub struct Plan {
    pub server: SocketAddr,
    pub server_pid: u32,
    pub clients: u64,
    pub per_proc: u64,
    pub polling_every: u64,
    pub slow_every: u64,
    pub net: u8,
    pub extra: Vec<(String, String)>,
}

/// Starts ceil(clients / per_proc) workers, worker i on source 127.net.0.(i+2).
pub async fn spawn_workers(p: &Plan, mode: &str) -> Result<Vec<Worker>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let procs = p.clients.div_ceil(p.per_proc).max(1);
    let mut workers = Vec::new();
    let mut base = 0;
    for i in 0..procs {
        let n = (p.clients - base).min(p.clients.div_ceil(procs));
        let source = IpAddr::V4(Ipv4Addr::new(127, p.net, 0, (i + 2) as u8));
        let mut cmd = Command::new(&exe);
        cmd.arg("worker")
            .args(["--server", &p.server.to_string()])
            .args(["--source", &source.to_string()])
            .args(["--clients", &n.to_string()])
            .args(["--base", &base.to_string()])
            .args(["--mode", mode])
            .args(["--polling-every", &p.polling_every.to_string()])
            .args(["--slow-every", &p.slow_every.to_string()]);
        for (k, v) in &p.extra {
            cmd.arg(format!("--{k}")).arg(v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| format!("spawn worker: {e}"))?;
        let pid = child.id().unwrap_or(0);
        let stdin = child.stdin.take().expect("piped");
        let out = BufReader::new(child.stdout.take().expect("piped")).lines();
        workers.push(Worker {
            pid,
            clients: n,
            source,
            _child: child,
            stdin,
            out,
        });
        base += n;
    }
    Ok(workers)
}

/// Waits for every worker's `connected` line: (ok, failed, ramp seconds, per-worker JSON).
pub async fn wait_connected(workers: &mut [Worker]) -> Result<(u64, u64, f64, Vec<Value>), String> {
    let mut ok = 0;
    let mut failed = 0;
    let mut first = u64::MAX;
    let mut last = 0;
    let mut each = Vec::new();
    for w in workers.iter_mut() {
        let v = w.read(Duration::from_secs(600)).await?;
        let n = v["ok"].as_u64().unwrap_or(0);
        ok += n;
        failed += v["failed"].as_u64().unwrap_or(0);
        first = first.min(v["first_us"].as_u64().unwrap_or(u64::MAX));
        last = last.max(v["last_us"].as_u64().unwrap_or(0));
        each.push(json!({"source": w.source.to_string(), "clients": w.clients, "connected": n, "errors": v["errors"]}));
    }
    let ramp = last.saturating_sub(first) as f64 / 1e6;
    Ok((ok, failed, ramp, each))
}

pub fn main(a: Args) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let out = a.str_or("out", "");
    let mut result = LocalSet::new().block_on(&rt, run(&a))?;
    result["label"] = json!(a.str_or("label", ""));
    result["run"] = json!(a.get_or::<u64>("run", 1)?);
    result["taken_at"] = json!(now_us() / 1_000_000);
    let line = result.to_string();
    println!("{line}");
    if !out.is_empty() {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out)
            .map_err(|e| format!("{out}: {e}"))?;
        writeln!(f, "{line}").map_err(|e| format!("{out}: {e}"))?;
    }
    // Exiting drops the workers (killed) and resets every connection.
    std::process::exit(0)
}

async fn run(a: &Args) -> Result<Value, String> {
    let scenario = a.str("scenario")?;
    let server: SocketAddr = a.get("server")?;
    let server_pid: u32 = a.get("server-pid")?;
    let net: u8 = a.get_or("net", (std::process::id() % 250 + 1) as u8)?;
    let mut extra = vec![
        ("concurrency".to_string(), a.str_or("concurrency", "64")),
        ("payload".to_string(), a.str_or("payload", "100")),
    ];
    for k in ["api-key", "site"] {
        if let Ok(v) = a.str(k) {
            extra.push((k.to_string(), v));
        }
    }
    let (polling_every, slow_every) = match scenario.as_str() {
        "mixed" => (5, 0),
        "slow" => (0, 100),
        _ => (0, 0),
    };
    let plan = Plan {
        server,
        server_pid,
        clients: a.get("clients")?,
        per_proc: a.get_or("per-proc", 5000)?,
        polling_every: a.get_or("polling-every", polling_every)?,
        slow_every: a.get_or("slow-every", slow_every)?,
        net,
        extra,
    };
    let mut r = match scenario.as_str() {
        "idle" => idle(a, &plan).await?,
        "fanout" | "mixed" | "slow" => fanout(a, &plan).await?,
        "echo" => echo(a, &plan).await?,
        "push" => crate::push::run(a, &plan).await?,
        other => return Err(format!("unknown scenario {other:?}")),
    };
    r["scenario"] = json!(scenario);
    r["clients"] = json!(plan.clients);
    Ok(r)
}

async fn idle(a: &Args, p: &Plan) -> Result<Value, String> {
    let hold: f64 = a.get_or("hold", 30.0)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_kib(p.server_pid);
    let mut workers = spawn_workers(p, "idle").await?;
    let mark = CpuMark::take(&workers, p.server_pid);
    let (ok, failed, ramp, each) = wait_connected(&mut workers).await?;
    let (gen_cpu, server_cpu) = mark.since(&workers, p.server_pid);
    let rss_ramp = rss_kib(p.server_pid);
    tokio::time::sleep(Duration::from_secs_f64(hold)).await;
    let mut alive = 0;
    for w in workers.iter_mut() {
        alive += w.cmd("progress").await?["alive"].as_u64().unwrap_or(0);
    }
    let rss_after = rss_kib(p.server_pid);
    let per_conn = if alive > 0 {
        (rss_after.saturating_sub(rss_before) * 1024) as f64 / alive as f64
    } else {
        f64::NAN
    };
    Ok(json!({
        "connected": ok, "failed": failed, "alive": alive, "hold_s": hold,
        "ramp_s": ramp, "connects_per_s": ok as f64 / ramp.max(1e-6),
        "rss_before_kib": rss_before, "rss_after_ramp_kib": rss_ramp, "rss_after_kib": rss_after,
        "bytes_per_conn": per_conn,
        "gen_cpu": gen_cpu, "server_cpu": server_cpu, "procs": workers.len(), "workers": each,
    }))
}

/// Percentiles of a merged histogram, in µs.
pub fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Value {
    if h.is_empty() {
        return json!({});
    }
    json!({
        "p50_us": h.value_at_quantile(0.50), "p90_us": h.value_at_quantile(0.90),
        "p99_us": h.value_at_quantile(0.99), "p999_us": h.value_at_quantile(0.999),
        "max_us": h.max(),
    })
}

/// Merges every worker's report.
pub async fn collect(
    workers: &mut [Worker],
) -> Result<(u64, u64, hdrhistogram::Histogram<u64>, u64, Value), String> {
    let mut h = new_hist();
    let mut received = 0;
    let mut last = 0;
    let mut alive = 0;
    let mut errors = serde_json::Map::new();
    for w in workers.iter_mut() {
        let v = w.cmd("report").await?;
        received += v["received"].as_u64().unwrap_or(0);
        last = last.max(v["last_recv_us"].as_u64().unwrap_or(0));
        alive += v["alive"].as_u64().unwrap_or(0);
        hist_add_json(&mut h, &v["hist"]);
        if let Some(m) = v["errors"].as_object() {
            for (k, n) in m {
                let cur = errors.get(k).and_then(Value::as_u64).unwrap_or(0);
                errors.insert(k.clone(), json!(cur + n.as_u64().unwrap_or(0)));
            }
        }
    }
    Ok((received, last, h, alive, Value::Object(errors)))
}

async fn fanout(a: &Args, p: &Plan) -> Result<Value, String> {
    let messages: u64 = a.get("messages")?;
    let window: u64 = a.get_or("window", 8)?;
    let payload: usize = a.get_or("payload", 100)?;
    // Broadcasts per second on a fixed schedule (0: as fast as the window allows).
    let rate: u64 = a.get_or("rate", 0)?;
    let room = "bench";
    let mut workers = spawn_workers(p, "fanout").await?;
    let (ok, failed, ramp, each) = wait_connected(&mut workers).await?;
    let receivers = (0..p.clients)
        .filter(|&i| kind_of(i, p.polling_every, p.slow_every) != Kind::Slow)
        .count() as u64;
    let slow = p.clients - receivers;
    let failed_receivers = failed; // failed clients never receive; counted against delivery
    let expected = (receivers.saturating_sub(failed_receivers)) * messages;

    let mut publisher = ws::connect(p.server, IpAddr::V4(Ipv4Addr::LOCALHOST), None, None).await?;
    let rss_start = rss_kib(p.server_pid);
    let samples = std::rc::Rc::new(std::cell::RefCell::new(Vec::<u64>::new()));
    let sampler = {
        let samples = samples.clone();
        let pid = p.server_pid;
        tokio::task::spawn_local(async move {
            loop {
                samples.borrow_mut().push(rss_kib(pid));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let mark = CpuMark::take(&workers, p.server_pid);
    let t0 = now_us();
    // With a rate, message k (from 0) goes out at t0 + k / rate, window permitting.
    let due = |k: u64| t0 + k * 1_000_000 / rate.max(1);
    let mut sent = 0u64;
    let mut acked = 0u64;
    while acked < messages {
        while sent < messages && sent - acked < window && (rate == 0 || now_us() >= due(sent)) {
            let args = format!("\"{room}\",{}", stamped(payload));
            sent += 1;
            publisher
                .send(&crate::proto::emit_with_ack(sent, "broadcast", &args))
                .await?;
        }
        let next_send = (rate > 0 && sent < messages && sent - acked < window).then(|| due(sent));
        let wait = async {
            match next_send {
                Some(at) => {
                    tokio::time::sleep(Duration::from_micros(at.saturating_sub(now_us()))).await
                }
                None => std::future::pending().await,
            }
        };
        let t = tokio::select! {
            next = tokio::time::timeout(Duration::from_secs(20), publisher.next_text()) => {
                let Ok(next) = next else {
                    return Err(format!(
                        "publisher: no broadcast ack for 20 s ({acked} of {sent} acked; the server stalled)"
                    ));
                };
                match next? {
                    Some(t) => classify(t),
                    None => return Err("publisher closed by the server".into()),
                }
            }
            () = wait => continue,
        };
        match t {
            Packet::Ack(..) => acked += 1,
            Packet::Ping => publisher.send("3").await?,
            _ => {}
        }
    }
    let published_s = (now_us() - t0) as f64 / 1e6;
    // Wait until every receiver has everything, or nothing moved for 3 s.
    let mut last_total = 0;
    let mut last_change = now_us();
    let mut cpu = (0.0, 0.0);
    loop {
        let mut total = 0;
        let mut last_recv = 0;
        for w in workers.iter_mut() {
            let v = w.cmd("progress").await?;
            total += v["received"].as_u64().unwrap_or(0);
            last_recv = last_recv.max(v["last_recv_us"].as_u64().unwrap_or(0));
        }
        if total != last_total {
            last_total = total;
            last_change = now_us();
            cpu = mark.since(&workers, p.server_pid);
        }
        if total >= expected || now_us() - last_change > 3_000_000 {
            break;
        }
        let _ = last_recv;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    sampler.abort();
    let rss_end = rss_kib(p.server_pid);
    let (received, last, h, alive, errors) = collect(&mut workers).await?;
    let secs = (last.saturating_sub(t0)) as f64 / 1e6;
    let samples = samples.borrow();
    let rss_peak = samples
        .iter()
        .copied()
        .max()
        .unwrap_or(rss_end)
        .max(rss_end);
    let mid = samples.get(samples.len() / 2).copied().unwrap_or(rss_end);
    let mut r = json!({
        "connected": ok, "failed": failed, "ramp_s": ramp, "workers": each, "procs": workers.len(),
        "messages": messages, "window": window, "rate": rate, "receivers": receivers, "slow": slow,
        "expected": expected, "received": received, "lost": expected.saturating_sub(received),
        "alive_at_end": alive, "published_s": published_s, "duration_s": secs,
        "deliveries_per_s": received as f64 / secs.max(1e-6),
        "gen_cpu": cpu.0, "server_cpu": cpu.1,
        "rss_start_kib": rss_start, "rss_mid_kib": mid, "rss_peak_kib": rss_peak, "rss_end_kib": rss_end,
        "errors": errors,
    });
    merge(&mut r, percentiles(&h));
    Ok(r)
}

async fn echo(a: &Args, p: &Plan) -> Result<Value, String> {
    let duration: f64 = a.get_or("duration", 10.0)?;
    let mut workers = spawn_workers(p, "echo").await?;
    let (ok, failed, ramp, each) = wait_connected(&mut workers).await?;
    let start = now_us() + 300_000;
    let end = start + (duration * 1e6) as u64;
    for w in workers.iter_mut() {
        w.cmd(&format!("go {start} {end}")).await?;
    }
    tokio::time::sleep(Duration::from_micros(start - now_us())).await;
    let mark = CpuMark::take(&workers, p.server_pid);
    tokio::time::sleep(Duration::from_micros(end.saturating_sub(now_us()))).await;
    let cpu = mark.since(&workers, p.server_pid);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (received, _last, h, alive, errors) = collect(&mut workers).await?;
    let mut r = json!({
        "connected": ok, "failed": failed, "ramp_s": ramp, "workers": each, "procs": workers.len(),
        "duration_s": duration, "round_trips": received, "alive_at_end": alive,
        "round_trips_per_s": received as f64 / duration,
        "gen_cpu": cpu.0, "server_cpu": cpu.1, "errors": errors,
    });
    merge(&mut r, percentiles(&h));
    Ok(r)
}

pub fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}
