//! A worker's counters and latency histogram, and their JSON form.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::proto::now_us;

/// 1 µs .. 1 h, 3 significant digits.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

/// The histogram as `[[value, count], …]`.
pub fn hist_to_json(h: &Histogram<u64>) -> Value {
    let v: Vec<Value> = h
        .iter_recorded()
        .map(|x| json!([x.value_iterated_to(), x.count_at_value()]))
        .collect();
    Value::Array(v)
}

/// Adds a `[[value, count], …]` histogram into `h`.
pub fn hist_add_json(h: &mut Histogram<u64>, v: &Value) {
    for pair in v.as_array().into_iter().flatten() {
        if let (Some(val), Some(n)) = (pair[0].as_u64(), pair[1].as_u64()) {
            h.saturating_record_n(val, n);
        }
    }
}

/// What the clients of one worker measured.
pub struct Stats {
    pub hist: RefCell<Histogram<u64>>,
    pub received: Cell<u64>,
    pub last_recv_us: Cell<u64>,
    pub alive: Cell<u64>,
    pub connected: Cell<u64>,
    pub failed: Cell<u64>,
    pub first_connect_us: Cell<u64>,
    pub last_connect_us: Cell<u64>,
    pub errors: RefCell<BTreeMap<String, u64>>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            hist: RefCell::new(new_hist()),
            received: Cell::new(0),
            last_recv_us: Cell::new(0),
            alive: Cell::new(0),
            connected: Cell::new(0),
            failed: Cell::new(0),
            first_connect_us: Cell::new(u64::MAX),
            last_connect_us: Cell::new(0),
            errors: RefCell::new(BTreeMap::new()),
        }
    }

    /// One measured delivery sent at `sent_us`.
    pub fn record(&self, sent_us: u64) {
        self.record_at(sent_us, now_us());
    }

    /// One measured delivery sent at `sent_us`, received at `now`.
    pub fn record_at(&self, sent_us: u64, now: u64) {
        self.hist
            .borrow_mut()
            .saturating_record(now.saturating_sub(sent_us).max(1));
        self.received.set(self.received.get() + 1);
        self.last_recv_us.set(now);
    }

    pub fn error(&self, what: String) {
        *self.errors.borrow_mut().entry(what).or_insert(0) += 1;
    }

    pub fn reset(&self) {
        self.hist.borrow_mut().reset();
        self.received.set(0);
        self.last_recv_us.set(0);
    }

    pub fn errors_json(&self) -> Value {
        json!(self.errors.borrow().clone())
    }
}
