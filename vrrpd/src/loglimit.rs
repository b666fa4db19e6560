//! Log lines that a flood cannot multiply, without I/O: for each reason,
//! the first occurrence in an interval is logged, the rest are counted,
//! and once the interval is over one line says how many more there were.
//! So a peer sending a thousand bad adverts a second costs two lines per
//! interval, not a thousand; the counters (status, metrics) see them all.

use std::collections::BTreeMap;
use std::time::Duration;

/// The interval of vrrpd's rate-limited logs.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Whether to log an occurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hit {
    /// Log it: the first of its reason in this interval.
    Log,
    /// Counted; [`LogLimit::flush`] reports it at the interval's end.
    Counted,
}

#[derive(Clone, Debug)]
struct Window {
    ends: Duration,
    more: u64,
}

/// The windows of one source of lines (an instance), by reason.
#[derive(Clone, Debug)]
pub struct LogLimit {
    interval: Duration,
    windows: BTreeMap<&'static str, Window>,
}

/// What a window that ended held back: `more` occurrences of `reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The reason.
    pub reason: &'static str,
    /// How many were counted and not logged.
    pub more: u64,
}

impl LogLimit {
    /// Windows of `interval`.
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            windows: BTreeMap::new(),
        }
    }

    /// One occurrence of `reason` at `now`. A window that ended with
    /// occurrences not yet summed up by [`LogLimit::flush`] is summed up
    /// here, before the new line.
    pub fn hit(&mut self, now: Duration, reason: &'static str) -> (Hit, Option<Summary>) {
        match self.windows.get_mut(reason) {
            Some(w) if now < w.ends => {
                w.more += 1;
                (Hit::Counted, None)
            }
            old => {
                let summary = old.filter(|w| w.more > 0).map(|w| Summary {
                    reason,
                    more: w.more,
                });
                self.windows.insert(
                    reason,
                    Window {
                        ends: now + self.interval,
                        more: 0,
                    },
                );
                (Hit::Log, summary)
            }
        }
    }

    /// The windows that ended by `now` with occurrences held back; they
    /// are closed (the next occurrence is logged at once).
    pub fn flush(&mut self, now: Duration) -> Vec<Summary> {
        let mut out = Vec::new();
        self.windows.retain(|&reason, w| {
            if w.ends > now {
                return true;
            }
            if w.more > 0 {
                out.push(Summary {
                    reason,
                    more: w.more,
                });
            }
            false
        });
        out
    }

    /// When [`LogLimit::flush`] next has something to say.
    pub fn next_flush(&self) -> Option<Duration> {
        self.windows
            .values()
            .filter(|w| w.more > 0)
            .map(|w| w.ends)
            .min()
    }

    /// The interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }
}

impl Default for LogLimit {
    fn default() -> Self {
        Self::new(INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn one_line_per_reason_per_interval_then_how_many_more() {
        let mut l = LogLimit::new(s(10));
        assert_eq!(l.hit(s(0), "ttl"), (Hit::Log, None));
        for t in 1..=9 {
            assert_eq!(l.hit(s(t), "ttl"), (Hit::Counted, None));
        }
        // Another reason has its own window.
        assert_eq!(l.hit(s(5), "auth"), (Hit::Log, None));
        assert_eq!(
            l.next_flush(),
            Some(s(10)),
            "only windows that held some back"
        );
        assert_eq!(l.flush(s(9)), []);
        assert_eq!(
            l.flush(s(10)),
            [Summary {
                reason: "ttl",
                more: 9
            }]
        );
        assert_eq!(l.next_flush(), None);
        // The window closed: the next one is logged at once.
        assert_eq!(l.hit(s(11), "ttl"), (Hit::Log, None));
        // auth's window ended with nothing held back: no line.
        assert_eq!(l.flush(s(15)), []);
        assert_eq!(l.hit(s(16), "auth"), (Hit::Log, None));
    }

    #[test]
    fn an_ended_window_not_flushed_yet_is_summed_up_before_the_next_line() {
        let mut l = LogLimit::new(s(10));
        l.hit(s(0), "ttl");
        l.hit(s(1), "ttl");
        l.hit(s(2), "ttl");
        assert_eq!(
            l.hit(s(30), "ttl"),
            (
                Hit::Log,
                Some(Summary {
                    reason: "ttl",
                    more: 2
                })
            )
        );
        assert_eq!(l.flush(s(35)), []);
    }

    #[test]
    fn a_flood_costs_two_lines() {
        let mut l = LogLimit::default();
        let mut lines = 0;
        for i in 0..100_000u64 {
            let now = Duration::from_micros(i * 50); // 20,000 a second for 5 s
            if l.hit(now, "ttl").0 == Hit::Log {
                lines += 1;
            }
        }
        lines += l.flush(s(10)).len();
        assert_eq!(lines, 2);
    }
}
