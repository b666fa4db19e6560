//! When a master announces its VIPs (gratuitous ARPs, unsolicited NAs),
//! without I/O: keepalived's schedule. On becoming master, a burst of
//! `garp_master_repeat` announcements at once and, `garp_master_delay`
//! later, a second burst (none if the delay is 0); while master, one
//! more every `garp_master_refresh` (off if 0; keepalived's
//! `garp_master_refresh_repeat` of 1), for routers whose ARP entries time
//! out before they would ask again. Leaving master cancels them all.

use std::time::Duration;

/// The timing, from the instance's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GarpConfig {
    /// Second burst this long after becoming master; zero: none.
    pub delay: Duration,
    /// Announcements per burst (at least 1).
    pub repeat: u32,
    /// One announcement this often while master; zero: never.
    pub refresh: Duration,
}

impl Default for GarpConfig {
    /// keepalived's defaults: 5 at once, 5 more after 5 s, no refresh.
    fn default() -> Self {
        GarpConfig {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: Duration::ZERO,
        }
    }
}

/// What is still to be announced.
#[derive(Clone, Debug, Default)]
pub struct GarpSchedule {
    cfg: GarpConfig,
    /// The bursts to come: when, and how many.
    bursts: Vec<(Duration, u32)>,
    /// The next refresh, while master with a refresh interval.
    refresh_at: Option<Duration>,
}

impl GarpSchedule {
    /// Nothing to announce until [`GarpSchedule::became_master`].
    pub fn new(cfg: GarpConfig) -> Self {
        GarpSchedule {
            cfg,
            ..Default::default()
        }
    }

    /// The instance became master at `now`.
    pub fn became_master(&mut self, now: Duration) {
        self.bursts = vec![(now, self.cfg.repeat)];
        if !self.cfg.delay.is_zero() {
            self.bursts.push((now + self.cfg.delay, self.cfg.repeat));
        }
        self.refresh_at = (!self.cfg.refresh.is_zero()).then(|| now + self.cfg.refresh);
    }

    /// The instance is master no more: nothing more to announce.
    pub fn left_master(&mut self) {
        self.bursts.clear();
        self.refresh_at = None;
    }

    /// When the next announcement is due.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.bursts.iter().map(|b| b.0).chain(self.refresh_at).min()
    }

    /// How many announcements are due at `now` (0: none), each taken
    /// once. A refresh that fell behind (a stalled loop) is one, and the
    /// next keeps the interval's phase.
    pub fn due(&mut self, now: Duration) -> u32 {
        let mut n = 0;
        self.bursts.retain(|&(at, count)| {
            let due = at <= now;
            if due {
                n += count;
            }
            !due
        });
        if let Some(at) = self.refresh_at.filter(|at| *at <= now) {
            n += 1;
            let mut next = at + self.cfg.refresh;
            while next <= now {
                next += self.cfg.refresh;
            }
            self.refresh_at = Some(next);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    /// (time, count) of every announcement from 0 to `until` s, looking
    /// at each deadline as the daemon does.
    fn run(cfg: GarpConfig, until: f64, leave_at: Option<f64>) -> Vec<(f64, u32)> {
        let mut g = GarpSchedule::new(cfg);
        assert_eq!(g.next_deadline(), None, "nothing before master");
        g.became_master(s(0.0));
        let mut out = vec![];
        while let Some(t) = g.next_deadline().filter(|t| *t <= s(until)) {
            if leave_at.is_some_and(|l| t >= s(l)) {
                g.left_master();
                break;
            }
            let n = g.due(t);
            assert!(n > 0, "a deadline with nothing due at {t:?}");
            assert_eq!(g.due(t), 0, "taken twice at {t:?}");
            out.push((t.as_secs_f64(), n));
        }
        out
    }

    #[test]
    fn keepalived_defaults_two_bursts_of_five() {
        assert_eq!(run(GarpConfig::default(), 60.0, None), [(0.0, 5), (5.0, 5)]);
    }

    #[test]
    fn no_second_burst_with_zero_delay_and_repeat_counts() {
        let cfg = GarpConfig {
            delay: Duration::ZERO,
            repeat: 3,
            refresh: Duration::ZERO,
        };
        assert_eq!(run(cfg, 60.0, None), [(0.0, 3)]);
    }

    #[test]
    fn refresh_sends_one_each_interval_while_master() {
        let cfg = GarpConfig {
            delay: s(2.0),
            repeat: 2,
            refresh: s(3.0),
        };
        assert_eq!(
            run(cfg, 10.0, None),
            [(0.0, 2), (2.0, 2), (3.0, 1), (6.0, 1), (9.0, 1)]
        );
        // leaving master at 4 s: the refresh at 6 s never comes
        assert_eq!(run(cfg, 10.0, Some(4.0)), [(0.0, 2), (2.0, 2), (3.0, 1)]);
    }

    #[test]
    fn a_refresh_equal_to_the_delay_adds_up() {
        let cfg = GarpConfig {
            delay: s(5.0),
            repeat: 5,
            refresh: s(5.0),
        };
        let mut g = GarpSchedule::new(cfg);
        g.became_master(s(10.0));
        assert_eq!(g.due(s(10.0)), 5);
        assert_eq!(g.next_deadline(), Some(s(15.0)));
        assert_eq!(g.due(s(15.0)), 6);
        assert_eq!(g.next_deadline(), Some(s(20.0)));
    }

    #[test]
    fn a_late_look_sends_one_refresh_and_keeps_the_phase() {
        let cfg = GarpConfig {
            delay: Duration::ZERO,
            repeat: 1,
            refresh: s(1.0),
        };
        let mut g = GarpSchedule::new(cfg);
        g.became_master(s(0.0));
        assert_eq!(g.due(s(0.0)), 1);
        assert_eq!(g.due(s(3.5)), 1, "three intervals late: one, not three");
        assert_eq!(g.next_deadline(), Some(s(4.0)));
        assert_eq!(g.due(s(3.9)), 0);
    }

    #[test]
    fn becoming_master_again_restarts_the_schedule() {
        let mut g = GarpSchedule::new(GarpConfig::default());
        g.became_master(s(0.0));
        assert_eq!(g.due(s(0.0)), 5);
        g.left_master();
        assert_eq!(g.next_deadline(), None);
        assert_eq!(g.due(s(5.0)), 0);
        g.became_master(s(7.0));
        assert_eq!(g.due(s(7.0)), 5);
        assert_eq!(g.next_deadline(), Some(s(12.0)));
    }
}
