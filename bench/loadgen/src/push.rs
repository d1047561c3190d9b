//! Scenario 4, per-user push: clients of distinct users connected to the herald service;
//! POST /send to one user's room at a fixed rate, rate after rate, until deliveries fall
//! behind. The ceiling is the highest rate whose deliveries kept up (≥ 95 % within the
//! step and its 1 s drain).

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::args::Args;
use crate::coord::{CpuMark, Plan, collect, merge, percentiles, spawn_workers, wait_connected};
use crate::polling::Conn;
use crate::proto::{now_us, stamped};

pub async fn run(a: &Args, p: &Plan) -> Result<Value, String> {
    let step_s: f64 = a.get_or("step", 4.0)?;
    let conns: u64 = a.get_or("http-conns", 64)?;
    let rates: Vec<u64> = a
        .str_or("rates", "1000,2000,5000,10000,20000,40000")
        .split(',')
        .filter_map(|r| r.parse().ok())
        .collect();
    let key = a.str("api-key")?;
    let site = a.str_or("site", "bench");
    let payload: usize = a.get_or("payload", 100)?;
    let mut workers = spawn_workers(p, "push").await?;
    let (ok, failed, ramp, each) = wait_connected(&mut workers).await?;
    if ok == 0 {
        return Err(format!("no client connected: {each:?}"));
    }
    let mut http = Vec::new();
    for _ in 0..conns {
        http.push(Conn::open(p.server, IpAddr::V4(Ipv4Addr::LOCALHOST)).await?);
    }
    let mut steps = Vec::new();
    let mut ceiling = 0;
    for &rate in &rates {
        for w in workers.iter_mut() {
            w.cmd("reset").await?;
        }
        let total = (rate as f64 * step_s) as u64;
        let mark = CpuMark::take(&workers, p.server_pid);
        let t0 = now_us();
        let accepted = Rc::new(Cell::new(0u64));
        let errors = Rc::new(Cell::new(0u64));
        let mut tasks = Vec::new();
        for (c, mut conn) in http.drain(..).enumerate() {
            let (accepted, errors, key, site) =
                (accepted.clone(), errors.clone(), key.clone(), site.clone());
            let clients = p.clients;
            tasks.push(tokio::task::spawn_local(async move {
                let mut j = c as u64;
                while j < total {
                    let due = t0 + (j as f64 * 1e6 / rate as f64) as u64;
                    let now = now_us();
                    if due > now {
                        tokio::time::sleep(Duration::from_micros(due - now)).await;
                    }
                    let user = (j * 7919) % clients;
                    let body = format!(
                        "{{\"rooms\":[\"u{user}\"],\"event\":\"push\",\"args\":[{}]}}",
                        stamped(payload)
                    );
                    let r = conn
                        .request(
                            "POST",
                            &format!("/send?site={site}"),
                            &[("x-api-key", &key), ("content-type", "application/json")],
                            Some(body),
                        )
                        .await;
                    match r {
                        Ok(_) => accepted.set(accepted.get() + 1),
                        Err(_) => errors.set(errors.get() + 1),
                    }
                    j += conns;
                }
                conn
            }));
        }
        for t in tasks {
            http.push(t.await.map_err(|e| format!("sender task: {e}"))?);
        }
        let send_s = (now_us() - t0) as f64 / 1e6;
        let cpu = mark.since(&workers, p.server_pid);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (received, _last, h, _alive, errs) = collect(&mut workers).await?;
        let kept_up = received as f64 >= 0.95 * total as f64 && send_s <= step_s * 1.05 + 0.1;
        let mut s = json!({
            "rate": rate, "sent": total, "accepted": accepted.get(), "http_errors": errors.get(),
            "send_s": send_s, "received": received, "delivered_per_s": received as f64 / send_s.max(1e-6),
            "kept_up": kept_up, "gen_cpu": cpu.0, "server_cpu": cpu.1, "errors": errs,
        });
        merge(&mut s, percentiles(&h));
        eprintln!("push: {s}");
        steps.push(s);
        if !kept_up {
            break;
        }
        ceiling = rate;
    }
    let at_ceiling = steps
        .iter()
        .find(|s| s["rate"].as_u64() == Some(ceiling))
        .cloned()
        .unwrap_or(json!({}));
    Ok(json!({
        "connected": ok, "failed": failed, "ramp_s": ramp, "workers": each, "procs": workers.len(),
        "ceiling_per_s": ceiling, "steps": steps,
        "p50_us": at_ceiling["p50_us"], "p99_us": at_ceiling["p99_us"],
        "gen_cpu": at_ceiling["gen_cpu"], "server_cpu": at_ceiling["server_cpu"],
    }))
}
