//! A real server's health, without I/O: rise/fall hysteresis over probe
//! results, the interval to the next probe (HAProxy's `inter`, `fastinter`
//! and `downinter`), and the weight a recovered server ramps up to (slow
//! start).
//!
//! Times are [`Duration`]s since any fixed origin, as in [`crate::fsm`].

use crate::config::CheckSpec;
use std::time::Duration;

/// Up or down, by the rise/fall rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Health {
    up: bool,
    /// Results in a row that disagree with `up`.
    streak: u32,
    /// Whether any result has come in yet.
    probed: bool,
    /// State changes so far.
    transitions: u64,
    /// When the state last changed (None: never, it is the initial one).
    since: Option<Duration>,
    /// When the server last came up after being down, if it has (the
    /// initial rise at start excluded): where slow start counts from.
    recovered_at: Option<Duration>,
}

/// The state changed to this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Up (true) or down.
    pub up: bool,
}

impl Health {
    /// The state before any probe: down until `rise` successes, or up
    /// until `fall` failures if the check says `initial = "up"`.
    pub const fn new(initial_up: bool) -> Self {
        Health {
            up: initial_up,
            streak: 0,
            probed: false,
            transitions: 0,
            since: None,
            recovered_at: None,
        }
    }

    /// Whether the server counts as up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// Whether the results have decided the state: it changed once, or a
    /// result agreed with the initial state. Until then a restarted daemon
    /// leaves the module's weight as it found it.
    pub fn settled(&self) -> bool {
        self.transitions > 0 || (self.probed && self.streak == 0)
    }

    /// Transitions so far.
    pub fn transitions(&self) -> u64 {
        self.transitions
    }

    /// When the state last changed.
    pub fn since(&self) -> Option<Duration> {
        self.since
    }

    /// Results in a row against the current state (a server changing state
    /// has some).
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// Records a probe's result at `now`; returns the new state if it
    /// changed.
    pub fn record(&mut self, now: Duration, ok: bool, spec: &CheckSpec) -> Option<Transition> {
        self.probed = true;
        if ok == self.up {
            self.streak = 0;
            return None;
        }
        self.streak += 1;
        let needed = if self.up { spec.fall } else { spec.rise };
        if self.streak < needed {
            return None;
        }
        // A server down only because nothing had been probed yet rises
        // without slow start: it was never taken out of service.
        let initial_rise = ok && self.transitions == 0 && !spec.initial_up;
        self.up = ok;
        self.streak = 0;
        self.transitions += 1;
        self.since = Some(now);
        if ok && !initial_rise {
            self.recovered_at = Some(now);
        }
        Some(Transition { up: ok })
    }

    /// How long after a probe's scheduled time the next one is due.
    pub fn next_interval(&self, spec: &CheckSpec) -> Duration {
        if self.streak > 0 {
            spec.fast_interval
        } else if self.up {
            spec.interval
        } else if !self.probed {
            // Nothing known yet: the first probe was due at a jittered time.
            spec.fast_interval
        } else {
            spec.down_interval
        }
    }

    /// `weight` under slow start at `now`: a server that recovered less
    /// than `ramp` ago takes a share in proportion to the time since (at
    /// least 1, rounded up), like HAProxy's `slowstart`.
    pub fn ramped_weight(&self, weight: u32, now: Duration, ramp: Duration) -> u32 {
        match self.recovered_at {
            Some(at) if self.up && !ramp.is_zero() && now < at + ramp && weight > 1 => {
                let elapsed = (now - at).as_millis();
                let share = (u128::from(weight) * elapsed).div_ceil(ramp.as_millis());
                u32::try_from(share).unwrap_or(weight).clamp(1, weight)
            }
            _ => weight,
        }
    }

    /// When a slow start in progress next changes the weight (for the
    /// daemon's timer): the end of the ramp, in steps of a tenth of it.
    pub fn ramp_step_due(&self, now: Duration, ramp: Duration) -> Option<Duration> {
        let at = self.recovered_at.filter(|_| self.up && !ramp.is_zero())?;
        let end = at + ramp;
        if now >= end {
            return None;
        }
        let step = (ramp / 10).max(Duration::from_millis(100));
        let n = ((now - at).as_millis() / step.as_millis()) as u32 + 1;
        Some((at + step * n).min(end))
    }
}

/// Envoy's panic threshold: with fewer than `threshold_pct` percent of the
/// `total` real servers up (but at least one configured), every server
/// takes traffic rather than a few taking all of it. 0 turns it off.
pub fn panic(up: usize, total: usize, threshold_pct: u8) -> bool {
    threshold_pct > 0 && total > 0 && up * 100 < usize::from(threshold_pct) * total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckKind;

    fn spec(rise: u32, fall: u32) -> CheckSpec {
        CheckSpec {
            kind: CheckKind::Tcp,
            port: 80,
            interval: ms(1000),
            fast_interval: ms(200),
            down_interval: ms(5000),
            timeout: ms(500),
            rise,
            fall,
            initial_up: false,
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// Feeds `results` ("+" ok, "-" failed) a second apart; the states
    /// after each ("U"/"D").
    fn run(h: &mut Health, s: &CheckSpec, results: &str) -> String {
        results
            .chars()
            .enumerate()
            .map(|(i, c)| {
                h.record(ms(1000 * i as u64), c == '+', s);
                if h.is_up() {
                    'U'
                } else {
                    'D'
                }
            })
            .collect()
    }

    #[test]
    fn rise_and_fall_need_results_in_a_row() {
        let s = spec(2, 3);
        let mut h = Health::new(false);
        assert_eq!(run(&mut h, &s, "+-++--+---+"), "DDDUUUUUUDD");
        assert_eq!(h.transitions(), 2);
        let mut h = Health::new(false);
        assert_eq!(run(&mut h, &s, "++"), "DU");
        assert_eq!(
            run(&mut h, &s, "--+--+---"),
            "UUUUUUUUD",
            "a success resets the failures"
        );
    }

    #[test]
    fn settled_once_the_results_decide() {
        let s = spec(2, 2);
        let mut h = Health::new(false);
        assert!(!h.settled());
        h.record(ms(0), true, &s);
        assert!(!h.settled(), "one success of two");
        h.record(ms(1), true, &s);
        assert!(h.settled());
        let mut h = Health::new(false);
        h.record(ms(0), false, &s);
        assert!(h.settled(), "a failure confirms down");
        let mut h = Health::new(true);
        h.record(ms(0), true, &s);
        assert!(h.settled());
    }

    #[test]
    fn initial_up_waits_for_fall() {
        let s = CheckSpec {
            initial_up: true,
            ..spec(2, 2)
        };
        let mut h = Health::new(true);
        assert!(h.is_up());
        assert_eq!(run(&mut h, &s, "-+--"), "UUUD");
        assert_eq!(h.transitions(), 1);
    }

    #[test]
    fn transitions_are_reported_once_with_their_time() {
        let s = spec(1, 1);
        let mut h = Health::new(false);
        assert_eq!(h.record(ms(10), true, &s), Some(Transition { up: true }));
        assert_eq!(h.record(ms(20), true, &s), None);
        assert_eq!(h.since(), Some(ms(10)));
        assert_eq!(h.record(ms(30), false, &s), Some(Transition { up: false }));
        assert_eq!((h.since(), h.transitions()), (Some(ms(30)), 2));
    }

    #[test]
    fn intervals_follow_the_state() {
        let s = spec(2, 2);
        let mut h = Health::new(false);
        assert_eq!(h.next_interval(&s), ms(200), "not probed yet");
        h.record(ms(0), false, &s);
        assert_eq!(h.next_interval(&s), ms(5000), "down: downinter");
        h.record(ms(1), true, &s);
        assert_eq!(h.next_interval(&s), ms(200), "rising: fastinter");
        h.record(ms(2), true, &s);
        assert_eq!(h.next_interval(&s), ms(1000), "up: inter");
        h.record(ms(3), false, &s);
        assert_eq!(h.next_interval(&s), ms(200), "falling: fastinter");
        h.record(ms(4), false, &s);
        assert_eq!(h.next_interval(&s), ms(5000));
    }

    #[test]
    fn slow_start_ramps_a_recovered_server() {
        let s = spec(1, 1);
        let ramp = ms(10_000);
        let mut h = Health::new(false);
        h.record(ms(0), true, &s);
        assert_eq!(
            h.ramped_weight(100, ms(1), ramp),
            100,
            "the first rise at start is not slowed"
        );
        h.record(ms(1000), false, &s);
        assert_eq!(
            h.ramped_weight(100, ms(1500), ramp),
            100,
            "down: the weight is not ours to ramp"
        );
        h.record(ms(2000), true, &s);
        assert_eq!(h.ramped_weight(100, ms(2000), ramp), 1, "at least 1");
        assert_eq!(h.ramped_weight(100, ms(3000), ramp), 10);
        assert_eq!(h.ramped_weight(100, ms(7000), ramp), 50);
        assert_eq!(h.ramped_weight(100, ms(7001), ramp), 51, "rounded up");
        assert_eq!(h.ramped_weight(100, ms(12_000), ramp), 100);
        assert_eq!(
            h.ramped_weight(1, ms(3000), ramp),
            1,
            "weight 1 cannot ramp"
        );
        assert_eq!(h.ramped_weight(100, ms(3000), Duration::ZERO), 100, "off");
        assert_eq!(h.ramp_step_due(ms(2000), ramp), Some(ms(3000)));
        assert_eq!(h.ramp_step_due(ms(3000), ramp), Some(ms(4000)));
        assert_eq!(h.ramp_step_due(ms(11_500), ramp), Some(ms(12_000)));
        assert_eq!(h.ramp_step_due(ms(12_000), ramp), None);
    }

    #[test]
    fn slow_start_applies_after_initial_up_servers_fail() {
        let s = CheckSpec {
            initial_up: true,
            ..spec(1, 1)
        };
        let mut h = Health::new(true);
        assert_eq!(h.ramped_weight(10, ms(0), ms(1000)), 10);
        h.record(ms(0), false, &s);
        h.record(ms(100), true, &s);
        assert_eq!(h.ramped_weight(10, ms(600), ms(1000)), 5);
    }

    #[test]
    fn panic_threshold() {
        assert!(!panic(0, 4, 0), "off");
        assert!(panic(1, 4, 50));
        assert!(!panic(2, 4, 50), "exactly at the threshold is not panic");
        assert!(panic(0, 4, 50));
        assert!(!panic(0, 0, 50), "nothing configured");
        assert!(panic(99, 100, 100));
    }
}
