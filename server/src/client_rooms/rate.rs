//! A token bucket: `rate` operations per second sustained, `burst` at once. The clock is
//! passed in, so tests run on a virtual one.

use std::time::Instant;

/// One socket's operation budget.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate: f64::from(rate),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token at `now`; false when none is left.
    pub fn try_take(&mut self, now: Instant) -> bool {
        if now > self.last {
            let elapsed = now.duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
            self.last = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn taken(b: &mut TokenBucket, now: Instant, n: usize) -> usize {
        (0..n).filter(|_| b.try_take(now)).count()
    }

    #[test]
    fn burst_then_sustained_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 20, t0);
        assert_eq!(taken(&mut b, t0, 25), 20, "the burst, at once");
        assert!(!b.try_take(t0 + Duration::from_millis(50)), "half a token");
        assert!(
            b.try_take(t0 + Duration::from_millis(100)),
            "one token per 100 ms"
        );
        assert!(!b.try_take(t0 + Duration::from_millis(100)));
        // One second later: ten more, not more.
        let t1 = t0 + Duration::from_millis(1100);
        assert_eq!(taken(&mut b, t1, 15), 10);
    }

    #[test]
    fn an_idle_bucket_refills_to_the_burst_only() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 20, t0);
        assert_eq!(taken(&mut b, t0, 20), 20);
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(taken(&mut b, later, 100), 20);
    }

    #[test]
    fn a_clock_going_backwards_grants_nothing() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut b = TokenBucket::new(10, 1, t0);
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0 - Duration::from_secs(5)));
        assert!(!b.try_take(t0 + Duration::from_millis(50)));
        assert!(b.try_take(t0 + Duration::from_millis(100)));
    }
}
