//! Prometheus metrics in the text exposition format (version 0.0.4),
//! hand-rolled over atomics: recording a request is a few relaxed atomic
//! adds, with no lock, and label values are fixed sets so the number of
//! series stays bounded whatever clients send.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Accepted `operation_type` label values; anything else is the last one.
const OPERATION_TYPES: [&str; 5] = ["query", "mutation", "subscription", "batch", "unknown"];
/// Accepted `outcome` label values; anything else is the last one.
const OUTCOMES: [&str; 4] = ["ok", "error", "rejected", "unknown"];

/// Upper bounds of the latency histogram's buckets, in seconds (as written
/// in the `le` label) and in nanoseconds (compared without floating point).
const BUCKETS: [(&str, u64); 13] = [
    ("0.001", 1_000_000),
    ("0.0025", 2_500_000),
    ("0.005", 5_000_000),
    ("0.01", 10_000_000),
    ("0.025", 25_000_000),
    ("0.05", 50_000_000),
    ("0.1", 100_000_000),
    ("0.25", 250_000_000),
    ("0.5", 500_000_000),
    ("1", 1_000_000_000),
    ("2.5", 2_500_000_000),
    ("5", 5_000_000_000),
    ("10", 10_000_000_000),
];

/// The gateway's metrics; cheap to clone (clones share the counters).
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Requests by [operation type][outcome].
    requests: [[AtomicU64; OUTCOMES.len()]; OPERATION_TYPES.len()],
    /// Observations per bucket, not cumulative (the last one is `+Inf`
    /// only); made cumulative when rendered.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of the observed latencies, in nanoseconds (u64 holds 584 years).
    sum_nanos: AtomicU64,
    ws_active: AtomicU64,
}

fn label_index(values: &[&str], value: &str) -> usize {
    values
        .iter()
        .position(|known| *known == value)
        .unwrap_or(values.len() - 1)
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Self::default()
    }

    /// One GraphQL request finished: operation type
    /// `query|mutation|subscription|batch|unknown`, outcome
    /// `ok|error|rejected` (rejected: 401 or a limit), latency. Other label
    /// values are recorded as `unknown`.
    pub fn observe_request(&self, operation_type: &str, outcome: &str, latency: Duration) {
        let op = label_index(&OPERATION_TYPES, operation_type);
        let outcome = label_index(&OUTCOMES, outcome);
        self.inner.requests[op][outcome].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let bucket = BUCKETS
            .iter()
            .position(|(_, bound)| nanos <= *bound)
            .unwrap_or(BUCKETS.len());
        self.inner.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        // Saturates rather than wrapping, so the sum never goes backwards.
        let _ = self
            .inner
            .sum_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |sum| {
                Some(sum.saturating_add(nanos))
            });
    }

    /// A websocket connection opened.
    pub fn ws_opened(&self) {
        self.inner.ws_active.fetch_add(1, Ordering::Relaxed);
    }

    /// A websocket connection closed (never below zero, even if closes
    /// outnumber opens).
    pub fn ws_closed(&self) {
        let _ = self
            .inner
            .ws_active
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// The text exposition (content type [`CONTENT_TYPE`]):
    /// `gateway_graphql_requests_total{operation_type,outcome}`,
    /// `gateway_graphql_request_duration_seconds` (histogram),
    /// `gateway_db_pool_connections{state="in_use"|"idle"}`,
    /// `gateway_ws_connections_active` and `gateway_build_info{version}`.
    pub fn render(&self, pool_in_use: u32, pool_idle: u32) -> String {
        let inner = &self.inner;
        let mut out = String::with_capacity(4096);
        // Writing to a String cannot fail; the results are ignored for that
        // reason only.
        header(
            &mut out,
            "gateway_graphql_requests_total",
            "GraphQL requests by operation type and outcome.",
            "counter",
        );
        for (op, by_outcome) in OPERATION_TYPES.iter().zip(&inner.requests) {
            for (outcome, count) in OUTCOMES.iter().zip(by_outcome) {
                let _ = writeln!(
                    out,
                    "gateway_graphql_requests_total{{operation_type=\"{op}\",outcome=\"{outcome}\"}} {}",
                    count.load(Ordering::Relaxed)
                );
            }
        }

        header(
            &mut out,
            "gateway_graphql_request_duration_seconds",
            "Latency of GraphQL requests, in seconds.",
            "histogram",
        );
        // The count is the sum of the buckets read here, so `+Inf` and
        // `_count` agree even while requests are being recorded.
        let mut cumulative = 0u64;
        for ((le, _), count) in BUCKETS.iter().zip(&inner.buckets) {
            cumulative = cumulative.saturating_add(count.load(Ordering::Relaxed));
            let _ = writeln!(
                out,
                "gateway_graphql_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative =
            cumulative.saturating_add(inner.buckets[BUCKETS.len()].load(Ordering::Relaxed));
        let _ = writeln!(
            out,
            "gateway_graphql_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let sum_seconds = inner.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(
            out,
            "gateway_graphql_request_duration_seconds_sum {sum_seconds}"
        );
        let _ = writeln!(
            out,
            "gateway_graphql_request_duration_seconds_count {cumulative}"
        );

        header(
            &mut out,
            "gateway_db_pool_connections",
            "Database pool connections by state.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "gateway_db_pool_connections{{state=\"in_use\"}} {pool_in_use}"
        );
        let _ = writeln!(
            out,
            "gateway_db_pool_connections{{state=\"idle\"}} {pool_idle}"
        );

        header(
            &mut out,
            "gateway_ws_connections_active",
            "Open GraphQL websocket connections.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "gateway_ws_connections_active {}",
            inner.ws_active.load(Ordering::Relaxed)
        );

        header(
            &mut out,
            "gateway_build_info",
            "Build information; the value is always 1.",
            "gauge",
        );
        let _ = writeln!(
            out,
            "gateway_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }
}

/// The live-subscription part of the exposition:
/// `gateway_live_subscriptions_active`, `gateway_live_events_total` (change
/// notifications received), `gateway_live_listener_connects_total` (LISTEN
/// connections made; more than one means reconnects),
/// `gateway_live_listener_up`, and the delivery lanes:
/// `gateway_live_delivery_transactions_total` (transactions begun for
/// deliveries), `gateway_live_deliveries_handed_on_total` (deliveries run in
/// a transaction handed on from the previous one),
/// `gateway_live_deliveries_waiting`, and the batched reads:
/// `gateway_live_batched_reads_total` (calls) and
/// `gateway_live_batched_viewers_total` (viewers read by them).
pub fn render_live(live: &crate::live::Live) -> String {
    let mut out = String::with_capacity(1024);
    for (name, help, kind, value) in [
        (
            "gateway_live_subscriptions_active",
            "Live subscriptions registered in this process.",
            "gauge",
            live.hub.subscribers() as u64,
        ),
        (
            "gateway_live_events_total",
            "Change notifications received from the database.",
            "counter",
            live.hub.published(),
        ),
        (
            "gateway_live_listener_connects_total",
            "LISTEN connections made (the first one, then reconnects).",
            "counter",
            live.stats.connects(),
        ),
        (
            "gateway_live_listener_up",
            "1 while the LISTEN connection is up, 0 while it reconnects.",
            "gauge",
            u64::from(live.stats.listening()),
        ),
        (
            "gateway_live_delivery_transactions_total",
            "Transactions begun for subscription deliveries.",
            "counter",
            live.lanes.begun(),
        ),
        (
            "gateway_live_deliveries_handed_on_total",
            "Subscription deliveries run in a transaction handed on from the previous delivery.",
            "counter",
            live.lanes.handed_on(),
        ),
        (
            "gateway_live_deliveries_waiting",
            "Subscription deliveries waiting for a delivery lane.",
            "gauge",
            live.lanes.waiting() as u64,
        ),
        (
            "gateway_live_batched_reads_total",
            "Batched reads: one database call reading an event's rows for many subscribers.",
            "counter",
            live.batchers.calls(),
        ),
        (
            "gateway_live_batched_viewers_total",
            "Subscribers whose rows were read by batched reads.",
            "counter",
            live.batchers.viewers(),
        ),
    ] {
        header(&mut out, name, help, kind);
        let _ = writeln!(out, "{name} {value}");
    }
    out
}

/// What the process's allocator reports, as `(state, bytes)` pairs (for
/// jemalloc: allocated, active, metadata, resident, mapped, retained).
pub type AllocatorStats = fn() -> Vec<(&'static str, u64)>;

static ALLOCATOR_STATS: std::sync::OnceLock<AllocatorStats> = std::sync::OnceLock::new();

/// Installs the allocator's figures for `/metrics` (the binary owns the
/// global allocator; the library only renders what it is given). Once.
pub fn set_allocator_stats(stats: AllocatorStats) {
    let _ = ALLOCATOR_STATS.set(stats);
}

/// `gateway_allocator_bytes{state}` when allocator figures are installed
/// (see [`set_allocator_stats`]); empty otherwise.
pub fn render_allocator() -> String {
    let Some(stats) = ALLOCATOR_STATS.get() else {
        return String::new();
    };
    render_allocator_stats(&stats())
}

fn render_allocator_stats(stats: &[(&str, u64)]) -> String {
    let mut out = String::with_capacity(512);
    if stats.is_empty() {
        return out;
    }
    let name = "gateway_allocator_bytes";
    header(
        &mut out,
        name,
        "Bytes the memory allocator reports, by state (allocated: live data; resident: what it holds in RAM).",
        "gauge",
    );
    for (state, bytes) in stats {
        let _ = writeln!(out, "{name}{{state=\"{state}\"}} {bytes}");
    }
    out
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    /// One sample line: metric name, labels, value.
    #[derive(Debug, PartialEq)]
    struct Sample {
        name: String,
        labels: Vec<(String, String)>,
        value: f64,
    }

    fn is_metric_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    fn is_label_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    fn parse_sample(line: &str) -> Result<Sample, String> {
        let (series, value) = line
            .rsplit_once(' ')
            .ok_or_else(|| format!("no value: {line}"))?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| format!("bad value: {line}"))?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .ok_or_else(|| format!("unclosed labels: {line}"))?;
                let mut labels = Vec::new();
                for pair in body.split(',') {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| format!("bad label: {line}"))?;
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .ok_or_else(|| format!("unquoted label value: {line}"))?;
                    if !is_label_name(k) || v.contains(['"', '\\', '\n']) {
                        return Err(format!("bad label: {line}"));
                    }
                    labels.push((k.to_string(), v.to_string()));
                }
                (name, labels)
            }
        };
        if !is_metric_name(name) {
            return Err(format!("bad metric name: {line}"));
        }
        Ok(Sample {
            name: name.to_string(),
            labels,
            value,
        })
    }

    /// Checks the exposition format: every family has one HELP and one TYPE
    /// line, before its samples; samples parse; a family's samples are
    /// contiguous; histogram samples use the family's suffixes. Returns the
    /// samples.
    fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
        let mut help = HashSet::new();
        let mut types: HashMap<String, String> = HashMap::new();
        let mut finished: HashSet<String> = HashSet::new();
        let mut current: Option<String> = None;
        let mut samples = Vec::new();
        if !text.ends_with('\n') {
            return Err("no trailing newline".into());
        }
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _) = rest.split_once(' ').ok_or("HELP without text")?;
                if !help.insert(name.to_string()) {
                    return Err(format!("second HELP for {name}"));
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').ok_or("TYPE without kind")?;
                if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                    return Err(format!("unknown type {kind}"));
                }
                if types.insert(name.to_string(), kind.to_string()).is_some() {
                    return Err(format!("second TYPE for {name}"));
                }
                if !help.contains(name) {
                    return Err(format!("TYPE before HELP for {name}"));
                }
                if let Some(previous) = current.replace(name.to_string()) {
                    finished.insert(previous);
                }
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                return Err(format!("unexpected line: {line:?}"));
            }
            let sample = parse_sample(line)?;
            let family = current.as_deref().ok_or("sample before any TYPE")?;
            let kind = &types[family];
            let belongs = if kind == "histogram" {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| sample.name == format!("{family}{suffix}"))
            } else {
                sample.name == family
            };
            if !belongs || finished.contains(&sample.name) {
                return Err(format!("sample {} outside its family", sample.name));
            }
            samples.push(sample);
        }
        if help.len() != types.len() {
            return Err("HELP without TYPE".into());
        }
        Ok(samples)
    }

    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = samples
            .iter()
            .filter(|s| {
                s.name == name
                    && s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .collect();
        assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
        found[0].value
    }

    #[test]
    fn counts_requests_by_bounded_labels() {
        let m = Metrics::new();
        m.observe_request("query", "ok", Duration::from_millis(3));
        m.observe_request("query", "ok", Duration::from_millis(3));
        m.observe_request("mutation", "error", Duration::from_millis(3));
        m.observe_request("batch", "rejected", Duration::from_millis(3));
        m.observe_request("DROP TABLE", "ok", Duration::from_millis(3));
        m.observe_request("query", "exploded", Duration::from_millis(3));
        let samples = parse_exposition(&m.render(0, 0)).expect("valid exposition");
        let total = "gateway_graphql_requests_total";
        let v = |op, outcome| {
            value(
                &samples,
                total,
                &[("operation_type", op), ("outcome", outcome)],
            )
        };
        assert_eq!(v("query", "ok"), 2.0);
        assert_eq!(v("mutation", "error"), 1.0);
        assert_eq!(v("batch", "rejected"), 1.0);
        assert_eq!(v("unknown", "ok"), 1.0);
        assert_eq!(v("query", "unknown"), 1.0);
        assert_eq!(v("subscription", "ok"), 0.0);
        // Only the known label values exist as series.
        let series = samples.iter().filter(|s| s.name == total).count();
        assert_eq!(series, OPERATION_TYPES.len() * OUTCOMES.len());
        assert!(!m.render(0, 0).contains("DROP"));
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.observe_request("query", "ok", Duration::from_micros(500)); // <= 0.001
        m.observe_request("query", "ok", Duration::from_millis(1)); // == 0.001 bound
        m.observe_request("query", "ok", Duration::from_millis(30)); // <= 0.05
        m.observe_request("query", "ok", Duration::from_millis(700)); // <= 1
        m.observe_request("query", "ok", Duration::from_secs(60)); // +Inf only
        let text = m.render(0, 0);
        let samples = parse_exposition(&text).expect("valid exposition");
        let bucket = |le| {
            value(
                &samples,
                "gateway_graphql_request_duration_seconds_bucket",
                &[("le", le)],
            )
        };
        assert_eq!(bucket("0.001"), 2.0);
        assert_eq!(bucket("0.0025"), 2.0);
        assert_eq!(bucket("0.025"), 2.0);
        assert_eq!(bucket("0.05"), 3.0);
        assert_eq!(bucket("0.5"), 3.0);
        assert_eq!(bucket("1"), 4.0);
        assert_eq!(bucket("10"), 4.0);
        assert_eq!(bucket("+Inf"), 5.0);
        assert_eq!(
            value(
                &samples,
                "gateway_graphql_request_duration_seconds_count",
                &[]
            ),
            5.0
        );
        let sum = value(
            &samples,
            "gateway_graphql_request_duration_seconds_sum",
            &[],
        );
        assert!((sum - 60.7315).abs() < 1e-9, "sum {sum}");
        // Buckets are in increasing `le` order and never decrease.
        let les: Vec<f64> = samples
            .iter()
            .filter(|s| s.name.ends_with("_bucket"))
            .map(|s| match s.labels[0].1.as_str() {
                "+Inf" => f64::INFINITY,
                le => le.parse().expect("le"),
            })
            .collect();
        assert_eq!(les.len(), BUCKETS.len() + 1);
        assert!(les.windows(2).all(|w| w[0] < w[1]));
        let counts: Vec<f64> = samples
            .iter()
            .filter(|s| s.name.ends_with("_bucket"))
            .map(|s| s.value)
            .collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn gauges_and_build_info() {
        let m = Metrics::new();
        m.ws_opened();
        m.ws_opened();
        m.ws_opened();
        m.ws_closed();
        let samples = parse_exposition(&m.render(3, 13)).expect("valid exposition");
        assert_eq!(value(&samples, "gateway_ws_connections_active", &[]), 2.0);
        assert_eq!(
            value(
                &samples,
                "gateway_db_pool_connections",
                &[("state", "in_use")]
            ),
            3.0
        );
        assert_eq!(
            value(
                &samples,
                "gateway_db_pool_connections",
                &[("state", "idle")]
            ),
            13.0
        );
        assert_eq!(
            value(
                &samples,
                "gateway_build_info",
                &[("version", env!("CARGO_PKG_VERSION"))]
            ),
            1.0
        );
        // More closes than opens never goes below zero.
        m.ws_closed();
        m.ws_closed();
        m.ws_closed();
        let samples = parse_exposition(&m.render(0, 0)).expect("valid exposition");
        assert_eq!(value(&samples, "gateway_ws_connections_active", &[]), 0.0);
    }

    #[test]
    fn clones_share_counters_across_threads() {
        let m = Metrics::new();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        m.observe_request("query", "ok", Duration::from_millis(2));
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        let samples = parse_exposition(&m.render(0, 0)).expect("valid exposition");
        let ok = value(
            &samples,
            "gateway_graphql_requests_total",
            &[("operation_type", "query"), ("outcome", "ok")],
        );
        assert_eq!(ok, 4000.0);
        assert_eq!(
            value(
                &samples,
                "gateway_graphql_request_duration_seconds_count",
                &[]
            ),
            4000.0
        );
    }

    #[test]
    fn every_family_has_help_and_type_once() {
        let text = Metrics::new().render(1, 2);
        parse_exposition(&text).expect("valid exposition");
        for family in [
            "gateway_graphql_requests_total",
            "gateway_graphql_request_duration_seconds",
            "gateway_db_pool_connections",
            "gateway_ws_connections_active",
            "gateway_build_info",
        ] {
            assert_eq!(
                text.matches(&format!("# HELP {family} ")).count(),
                1,
                "{family}"
            );
            assert_eq!(
                text.matches(&format!("# TYPE {family} ")).count(),
                1,
                "{family}"
            );
        }
    }

    #[test]
    fn allocator_bytes_by_state() {
        assert_eq!(render_allocator_stats(&[]), "");
        let text = render_allocator_stats(&[("allocated", 10), ("resident", 20)]);
        let samples = parse_exposition(&text).expect("valid exposition");
        assert_eq!(
            value(
                &samples,
                "gateway_allocator_bytes",
                &[("state", "allocated")]
            ),
            10.0
        );
        assert_eq!(
            value(
                &samples,
                "gateway_allocator_bytes",
                &[("state", "resident")]
            ),
            20.0
        );
    }

    #[test]
    fn the_checker_rejects_broken_expositions() {
        // The format check itself must be able to fail.
        assert!(parse_exposition("# HELP a x\n# TYPE a gauge\na 1\n# HELP a x\n").is_err());
        assert!(parse_exposition("a 1\n").is_err());
        assert!(parse_exposition("# HELP a x\n# TYPE a gauge\na{b=\"1\" 1\n").is_err());
        assert!(parse_exposition("# HELP a x\n# TYPE a gauge\nb 1\n").is_err());
        assert!(parse_exposition("# HELP a x\n# TYPE a gauge\na one\n").is_err());
        assert!(parse_exposition("# HELP a x\n# TYPE a gauge\na 1").is_err());
        assert!(parse_exposition("# HELP a x\n# TYPE a gauge\na 1\n").is_ok());
    }
}
