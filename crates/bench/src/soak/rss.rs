//! `serve`'s resident set size: reading it, and its trend over the second
//! half of a run.

/// One reading of `serve`'s resident set size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RssSample {
    /// Enrollments done when it was read.
    pub enrollments: usize,
    /// `VmRSS`, KiB.
    pub kib: u64,
}

/// The RSS trend over the second half of a run: the least-squares line
/// through the readings from half-way on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RssTrend {
    /// Enrollments done at the first reading of the fit.
    pub from: usize,
    /// Enrollments done at the last.
    pub to: usize,
    /// The RSS read at `from`, KiB.
    pub from_kib: u64,
    /// The slope, KiB per 1000 enrollments.
    pub kib_per_1000: f64,
}

impl RssTrend {
    /// The growth the slope amounts to from `from` to `to`, in percent of
    /// the RSS at `from`.
    pub fn growth_percent(&self) -> f64 {
        self.kib_per_1000 * (self.to - self.from) as f64 / 1000.0 * 100.0 / self.from_kib as f64
    }
}

/// The least-squares trend of the `samples` taken at half of `total` or
/// later; `None` with fewer than two of them.
pub fn rss_trend(samples: &[RssSample], total: usize) -> Option<RssTrend> {
    let later: Vec<&RssSample> = samples
        .iter()
        .filter(|s| s.enrollments * 2 >= total)
        .collect();
    let (first, last) = (later.first()?, later.last()?);
    if later.len() < 2 || first.kib == 0 {
        return None;
    }
    let n = later.len() as f64;
    let mean_x = later.iter().map(|s| s.enrollments as f64).sum::<f64>() / n;
    let mean_y = later.iter().map(|s| s.kib as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for s in &later {
        let dx = s.enrollments as f64 - mean_x;
        sxy += dx * (s.kib as f64 - mean_y);
        sxx += dx * dx;
    }
    Some(RssTrend {
        from: first.enrollments,
        to: last.enrollments,
        from_kib: first.kib,
        kib_per_1000: sxy / sxx * 1000.0,
    })
}

/// A process's resident set size in KiB (`VmRSS`, Linux).
pub fn rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(points: &[(usize, u64)]) -> Vec<RssSample> {
        points
            .iter()
            .map(|&(enrollments, kib)| RssSample { enrollments, kib })
            .collect()
    }

    #[test]
    fn a_warm_up_that_levels_off_is_no_trend_but_a_steady_rise_is() {
        // Warm-up: a steep rise in the first half, flat (with noise) after.
        let warm = samples(&[
            (50, 20_000),
            (100, 26_000),
            (150, 29_000),
            (200, 30_500),
            (250, 31_000),
            (300, 31_200),
            (350, 30_900),
            (400, 31_100),
            (450, 31_300),
            (500, 31_000),
        ]);
        let trend = rss_trend(&warm, 500).unwrap();
        assert_eq!((trend.from, trend.to, trend.from_kib), (250, 500, 31_000));
        assert!(trend.growth_percent().abs() < 1.0, "{trend:?}");
        // The end against an early reading calls this 55% growth.
        let (early, end) = (warm[0].kib as f64, warm[9].kib as f64);
        assert!((end - early) / early > 0.5);

        // A leak: 40 KiB per enrollment, on and on.
        let leak: Vec<RssSample> = (1..=10)
            .map(|i| RssSample {
                enrollments: i * 50,
                kib: 30_000 + 40 * (i as u64 * 50),
            })
            .collect();
        let trend = rss_trend(&leak, 500).unwrap();
        assert!((trend.kib_per_1000 - 40_000.0).abs() < 1e-6, "{trend:?}");
        // 40 KiB x 250 enrollments over the 40,000 KiB at 250.
        assert!((trend.growth_percent() - 25.0).abs() < 1e-9, "{trend:?}");
    }

    #[test]
    fn no_trend_without_two_readings_from_half_way_on() {
        assert_eq!(rss_trend(&samples(&[(100, 1), (500, 2)]), 1000), None);
        assert_eq!(rss_trend(&[], 10), None);
        assert!(rss_trend(&samples(&[(500, 10), (1000, 20)]), 1000).is_some());
    }
}
