//! Summaries of samples and the clock both processes stamp times with.

use std::time::{SystemTime, UNIX_EPOCH};

// ---- statistics ----------------------------------------------------------------------------

/// Mean and nearest-rank percentiles of a sample.
pub(crate) struct Summary {
    pub(crate) n: usize,
    pub(crate) mean: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

pub(crate) fn summarize(mut xs: Vec<f64>) -> Option<Summary> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let rank = |p: f64| xs[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    Some(Summary {
        n,
        mean: xs.iter().sum::<f64>() / n as f64,
        p50: rank(0.50),
        p99: rank(0.99),
        max: xs[n - 1],
    })
}

pub(crate) fn unix_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}
