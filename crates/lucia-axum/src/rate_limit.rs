//! The per-client-IP token bucket on sign-in and sign-up, and where the client IP comes from.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::extract::connect_info::MockConnectInfo;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::HeaderName;
use http::request::Parts;

/// The default per-IP quota of sign-ins and sign-ups: a burst of 20, then one more every 3
/// seconds (1,200 an hour).
pub(crate) fn default_quota() -> Quota {
    const BURST: NonZeroU32 = NonZeroU32::new(20).expect("20 is not zero");
    Quota::with_period(Duration::from_secs(3)).map_or(Quota::per_minute(BURST), |quota| quota.allow_burst(BURST))
}

/// How many checks between two prunings of the limiter's map: it holds at most this many
/// clients beyond those whose bucket is not yet full again.
const PRUNE_EVERY: u64 = 1024;

/// A token bucket per client (per IPv4 address, per IPv6 /64), in memory.
pub(crate) struct IpRateLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    quota: Quota,
    checks: AtomicU64,
}

impl std::fmt::Debug for IpRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpRateLimiter").field("quota", &self.quota).finish_non_exhaustive()
    }
}

impl IpRateLimiter {
    pub(crate) fn new(quota: Quota) -> Self {
        Self { limiter: RateLimiter::keyed(quota), quota, checks: AtomicU64::new(0) }
    }

    /// Takes a token from `ip`'s bucket: `Err` with how long until the next one if it is empty.
    pub(crate) fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            // Buckets that are full again are the same as no bucket: drop them.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        self.limiter.check_key(&bucket(ip)).map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// The bucket of an address: IPv4 addresses (also IPv4-mapped IPv6 ones) each have their own;
/// IPv6 addresses share one per /64, the smallest block a single client usually holds.
pub(crate) fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
    }
}

/// The client's address: from `header` when the application is behind a trusted proxy that
/// sets it (the right-most entry, the one that proxy wrote), else from the connection.
/// `None` without either: the app is not served with connect info.
pub(crate) fn client_ip(parts: &Parts, header: Option<&HeaderName>) -> Option<IpAddr> {
    if let Some(header) = header {
        let last = parts.headers.get_all(header).iter().next_back();
        match last.and_then(|value| value.to_str().ok()).and_then(parse_forwarded_for) {
            Some(ip) => return Some(ip),
            // Not through the proxy, or a proxy that did not write it: the connection's
            // address is the proxy's (or the client's), which limits at least as much.
            None => tracing::debug!(%header, "no client address in the trusted proxy header; using the connection's"),
        }
    }
    socket_ip(parts)
}

fn socket_ip(parts: &Parts) -> Option<IpAddr> {
    if let Some(ConnectInfo(address)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        return Some(address.ip());
    }
    parts.extensions.get::<MockConnectInfo<SocketAddr>>().map(|MockConnectInfo(address)| address.ip())
}

/// The right-most entry of an `X-Forwarded-For`-style list: an IP address, with or without a
/// port (`1.2.3.4:5678`, `[2001:db8::1]:443`).
fn parse_forwarded_for(value: &str) -> Option<IpAddr> {
    let entry = value.rsplit(',').next()?.trim();
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_per_ipv4_address_and_per_ipv6_64() {
        let ip = |text: &str| text.parse::<IpAddr>().unwrap();
        assert_eq!(bucket(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(bucket(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(bucket(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")), ip("2001:db8:1:2::"));
        assert_eq!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:2:ffff::9")));
        assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
    }

    #[test]
    fn the_right_most_forwarded_entry_is_the_client() {
        let ip = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        assert_eq!(parse_forwarded_for("203.0.113.9"), ip("203.0.113.9"));
        assert_eq!(parse_forwarded_for("10.9.9.9, 198.51.100.1 , 203.0.113.9"), ip("203.0.113.9"));
        assert_eq!(parse_forwarded_for("203.0.113.9:5678"), ip("203.0.113.9"));
        assert_eq!(parse_forwarded_for("[2001:db8::1]:443"), ip("2001:db8::1"));
        assert_eq!(parse_forwarded_for("1.2.3.4, unknown"), None);
        assert_eq!(parse_forwarded_for(""), None);
    }

    #[test]
    fn the_bucket_refills_and_old_buckets_are_pruned() {
        let quota = Quota::with_period(Duration::from_millis(1)).unwrap().allow_burst(NonZeroU32::new(3).unwrap());
        let limiter = IpRateLimiter::new(quota);
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            limiter.check(client).unwrap();
        }
        let wait = limiter.check(client).unwrap_err();
        assert!(wait <= Duration::from_millis(1), "{wait:?}");
        // Many one-off clients: their buckets are full again a few milliseconds later, and
        // the pruning every 1024 checks drops them.
        for i in 0..3000u32 {
            limiter.check(IpAddr::V4(std::net::Ipv4Addr::from_bits(0x0a00_0000 + i))).unwrap();
            if i % 1000 == 999 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        assert!(limiter.len() <= 1500, "{} buckets", limiter.len());
        assert!(
            default_quota().burst_size().get() == 20 && default_quota().replenish_interval() == Duration::from_secs(3)
        );
    }
}
