//! Rate limits per viewer: a token bucket (GCRA, from `governor`) for each
//! signed-in user, and for each client address when anonymous; every HTTP
//! operation (each item of a batch) and every websocket operation takes a
//! token. Over the limit: `RATE_LIMITED`, HTTP 429 with `Retry-After`.

use crate::auth::Viewer;
use crate::graphql::limits::Limits;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;
use uuid::Uuid;

/// Whose bucket an operation takes from.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum RateKey {
    /// A signed-in user.
    User(Uuid),
    /// An anonymous client (or a token without a user), by address.
    Address(IpAddr),
    /// An anonymous client whose address is unknown.
    Unknown,
}

impl RateKey {
    /// The key of `viewer` calling from `address`.
    pub fn of(viewer: &Viewer, address: Option<IpAddr>) -> Self {
        match (viewer.user_id, address) {
            (Some(user), _) => RateKey::User(user),
            (None, Some(address)) => RateKey::Address(address),
            (None, None) => RateKey::Unknown,
        }
    }
}

/// The limiter, shared by every request; cheap to clone. Off when the rate
/// is 0.
#[derive(Clone, Default)]
pub struct RateLimits(Option<Arc<DefaultKeyedRateLimiter<RateKey>>>);

/// How often buckets that are full again are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl RateLimits {
    /// The limiter for `limits` (`rate_limit_per_second`, `rate_limit_burst`).
    /// Must run inside the runtime: it starts the sweeper that forgets idle
    /// buckets, which ends when the last clone is dropped.
    pub fn new(limits: &Limits) -> Self {
        let Some(rate) = NonZeroU32::new(limits.rate_limit_per_second) else {
            return Self(None);
        };
        let burst = NonZeroU32::new(limits.rate_limit_burst).unwrap_or(rate);
        let limiter = Arc::new(RateLimiter::keyed(
            Quota::per_second(rate).allow_burst(burst),
        ));
        tokio::spawn(sweep(Arc::downgrade(&limiter)));
        Self(Some(limiter))
    }

    /// Takes `n` tokens from `key`'s bucket, or says how long to wait.
    pub fn check(&self, key: &RateKey, n: usize) -> Result<(), Duration> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        let n = NonZeroU32::new(u32::try_from(n).unwrap_or(u32::MAX)).unwrap_or(NonZeroU32::MIN);
        match limiter.check_key_n(key, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(not_until.wait_time_from(DefaultClock::default().now())),
            // More at once than the bucket holds: never allowed as one.
            Err(_) => Err(Duration::from_secs(1)),
        }
    }
}

async fn sweep(limiter: Weak<DefaultKeyedRateLimiter<RateKey>>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(limiter) = limiter.upgrade() else {
            return;
        };
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
}

/// Whole seconds to put in `Retry-After` (at least 1).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bucket_empties_and_refills_per_key() {
        let limits = Limits {
            rate_limit_per_second: 10,
            rate_limit_burst: 3,
            ..Limits::default()
        };
        let rate = RateLimits::new(&limits);
        let a = RateKey::User(Uuid::new_v4());
        let b = RateKey::Address("127.0.0.1".parse().unwrap());
        for _ in 0..3 {
            assert!(rate.check(&a, 1).is_ok());
        }
        let wait = rate.check(&a, 1).expect_err("the bucket is empty");
        assert!(wait <= Duration::from_millis(100), "{wait:?}");
        assert!(rate.check(&b, 3).is_ok(), "another key has its own bucket");
        assert!(rate.check(&b, 4).is_err(), "more than the bucket at once");
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(rate.check(&a, 1).is_ok(), "refilled");
        let off = RateLimits::new(&Limits {
            rate_limit_per_second: 0,
            ..Limits::default()
        });
        assert!((0..1000).all(|_| off.check(&a, 1).is_ok()));
    }
}
