//! Latencies in microseconds, in log-linear buckets (64 per power of two
//! above 128 µs: within 1.6%), so recording allocates nothing and the
//! per-thread histograms add up at the end.

/// Exact below this; 64 buckets per power of two from it on.
const LINEAR: u64 = 128;
const SUB_BITS: u32 = 6;
/// Up to 2^40 µs (12 days): more than any run lasts.
const BUCKETS: usize = LINEAR as usize + (40 - 7) * (1 << SUB_BITS);

pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

fn bucket(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let exponent = 63 - us.leading_zeros(); // >= 7
    let top = (us >> (exponent - SUB_BITS)) as usize; // 64..=127
    let index = LINEAR as usize + (exponent as usize - 7) * (1 << SUB_BITS) + (top - 64);
    index.min(BUCKETS - 1)
}

/// The middle of bucket `index`, in µs.
fn value(index: usize) -> f64 {
    if index < LINEAR as usize {
        return index as f64;
    }
    let rest = index - LINEAR as usize;
    let exponent = (rest >> SUB_BITS) as u32 + 7;
    let top = (rest & ((1 << SUB_BITS) - 1)) as u64 + 64;
    let low = top << (exponent - SUB_BITS);
    low as f64 + (1u64 << (exponent - SUB_BITS)) as f64 / 2.0
}

impl Histogram {
    pub fn record(&mut self, us: u64) {
        self.counts[bucket(us)] += 1;
        self.total += 1;
        self.max = self.max.max(us);
    }

    pub fn add(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    /// The `p` quantile (0..=1) in µs; 0 when empty.
    pub fn quantile(&self, p: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((p * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return value(index);
            }
        }
        self.max as f64
    }

    pub fn max(&self) -> u64 {
        self.max
    }
}

/// Checks the bucket arithmetic (a bench with `harness = false` runs no
/// `#[test]`).
pub fn self_check() {
    for us in [0, 1, 127, 128, 129, 1000, 54_321, 1_069_000, 900_000_000] {
        let v = value(bucket(us));
        assert!(
            (v - us as f64).abs() <= us as f64 / 60.0 + 0.5,
            "{us} µs lands in a bucket worth {v}"
        );
    }
    let mut h = Histogram::default();
    (1..=1000).for_each(|us| h.record(us));
    assert!((h.quantile(0.5) - 500.0).abs() < 10.0);
    assert!((h.quantile(0.99) - 990.0).abs() < 16.0);
}
