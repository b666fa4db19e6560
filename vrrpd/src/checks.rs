//! The check scheduler, without I/O: which probes exist, when each is due,
//! which are running and when they time out, and what their results say
//! about each real server's [`Health`].
//!
//! A probe is one (address, [`CheckSpec`]) pair: the same check of the same
//! address and port under several services is probed once, and every
//! service that lists it reads the same health. The daemon asks
//! [`Checks::poll`] what to start, runs the probes (see [`crate::probe`]),
//! and reports each result with [`Checks::complete`].

use crate::config::CheckSpec;
use crate::health::{Health, Transition};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

/// What is probed: an address, with a check that names its port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProbeKey {
    /// The real server's address.
    pub addr: IpAddr,
    /// The check.
    pub spec: CheckSpec,
}

/// A probe's index, stable while it exists.
pub type ProbeId = usize;

/// One probe's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// It passed.
    pub ok: bool,
    /// Why it failed, or what it saw ("HTTP 200").
    pub reason: String,
    /// How long it took.
    pub latency: Duration,
    /// When it finished.
    pub at: Duration,
}

/// One probe and its history.
#[derive(Clone, Debug)]
pub struct Probe {
    /// What it probes.
    pub key: ProbeKey,
    /// The server's health by its results.
    pub health: Health,
    /// The last result.
    pub last: Option<Outcome>,
    /// When the next run is (or the running one was) due.
    due: Duration,
    /// When the running attempt started.
    started: Option<Duration>,
    /// The generation of the probe's one live timer.
    generation: u64,
}

impl Probe {
    /// Whether an attempt is running.
    pub fn running(&self) -> bool {
        self.started.is_some()
    }
}

/// What [`Checks::poll`] found due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// Start this probe now.
    Start(ProbeId),
    /// This probe's attempt ran out of time: it counts as failed (what
    /// that did is given) and its I/O must be dropped.
    TimedOut(ProbeId, Recorded),
}

/// What a result did to its server's health.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The server went up or down.
    pub transition: Option<Transition>,
    /// The first result that decided the server's state without changing
    /// it (see [`Health::settled`]).
    pub settled: bool,
}

impl Recorded {
    /// Whether the plan for the server's services may have changed.
    pub fn changes_plan(&self) -> bool {
        self.transition.is_some() || self.settled
    }
}

/// How many recent starts [`Lateness::percentile`] looks at.
const RECENT: usize = 1 << 16;

/// How late probes started against their schedule: a histogram, in
/// microseconds, with power-of-two buckets, and the most recent starts
/// for percentiles.
#[derive(Clone, Debug, Default)]
pub struct Lateness {
    /// `buckets[i]` counts starts with lateness below 2^i µs.
    pub buckets: [u64; 32],
    /// Every start.
    pub count: u64,
    /// The sum, µs.
    pub sum_us: u64,
    /// The largest, µs.
    pub max_us: u64,
    /// Every sample, µs, when asked for (tests).
    pub samples: Option<Vec<u32>>,
    /// The last [`RECENT`] samples, µs (a ring).
    recent: Vec<u32>,
}

impl Lateness {
    fn record(&mut self, late: Duration) {
        let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        let i = (64 - us.leading_zeros()).min(31) as usize;
        self.buckets[i] += 1;
        let us32 = u32::try_from(us).unwrap_or(u32::MAX);
        if self.recent.len() < RECENT {
            self.recent.push(us32);
        } else {
            self.recent[(self.count % RECENT as u64) as usize] = us32;
        }
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        self.max_us = self.max_us.max(us);
        if let Some(s) = &mut self.samples {
            s.push(us32);
        }
    }

    /// The `q` quantile (0..=1) of the recent starts' lateness, µs.
    pub fn percentile(&self, q: f64) -> Option<u32> {
        let mut v = self.recent.clone();
        if v.is_empty() {
            return None;
        }
        let i = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        Some(*v.select_nth_unstable(i).1)
    }

    /// How many starts the percentiles cover.
    pub fn recent_len(&self) -> usize {
        self.recent.len()
    }
}

/// Every probe, and the timers that drive them.
pub struct Checks {
    probes: Vec<Option<Probe>>,
    free: Vec<ProbeId>,
    by_key: HashMap<ProbeKey, ProbeId>,
    /// (when, probe, generation): a probe's due time, or its running
    /// attempt's deadline. Stale generations are skipped.
    timers: BinaryHeap<Reverse<(Duration, ProbeId, u64)>>,
    rng: u64,
    /// The last timer generation handed out (unique across probes, so a
    /// reused slot never revives an old probe's timer).
    generation: u64,
    /// Start lateness.
    pub lateness: Lateness,
}

impl Checks {
    /// No probes; `seed` spreads the start times.
    pub fn new(seed: u64) -> Self {
        Checks {
            probes: vec![],
            free: vec![],
            by_key: HashMap::new(),
            timers: BinaryHeap::new(),
            rng: seed | 1,
            generation: 0,
            lateness: Lateness::default(),
        }
    }

    /// xorshift64*: start jitter needs spread, not secrecy.
    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Makes the set of probes `keys` (duplicates are one probe). Probes
    /// that stay keep their health, history and schedule; new ones start at
    /// a random point within their first interval; the others go. Returns
    /// the removed probes that were running, whose I/O must be dropped.
    pub fn sync(
        &mut self,
        keys: impl IntoIterator<Item = ProbeKey>,
        now: Duration,
    ) -> Vec<ProbeId> {
        let wanted: std::collections::HashSet<ProbeKey> = keys.into_iter().collect();
        let gone: Vec<(ProbeKey, ProbeId)> = self
            .by_key
            .iter()
            .filter(|(k, _)| !wanted.contains(*k))
            .map(|(k, id)| (k.clone(), *id))
            .collect();
        let mut cancelled = vec![];
        for (k, id) in gone {
            self.by_key.remove(&k);
            if self.probes[id].take().is_some_and(|p| p.running()) {
                cancelled.push(id);
            }
            self.free.push(id);
        }
        for key in wanted {
            if self.by_key.contains_key(&key) {
                continue;
            }
            let spread = u64::try_from(key.spec.interval.as_millis())
                .unwrap_or(u64::MAX)
                .max(1);
            let due = now + Duration::from_millis(self.random() % spread);
            let id = self.free.pop().unwrap_or(self.probes.len());
            let probe = Probe {
                health: Health::new(key.spec.initial_up),
                key: key.clone(),
                last: None,
                due,
                started: None,
                generation: 0,
            };
            if id == self.probes.len() {
                self.probes.push(Some(probe));
            } else {
                self.probes[id] = Some(probe);
            }
            self.by_key.insert(key, id);
            self.arm(id, due);
        }
        cancelled
    }

    /// (Re)sets probe `id`'s one timer.
    fn arm(&mut self, id: ProbeId, at: Duration) {
        if let Some(p) = self.probes[id].as_mut() {
            self.generation += 1;
            p.generation = self.generation;
            self.timers.push(Reverse((at, id, p.generation)));
        }
    }

    /// The probe `id`.
    pub fn probe(&self, id: ProbeId) -> Option<&Probe> {
        self.probes.get(id)?.as_ref()
    }

    /// The probe of `key`.
    pub fn find(&self, key: &ProbeKey) -> Option<&Probe> {
        self.probe(*self.by_key.get(key)?)
    }

    /// Every probe.
    pub fn iter(&self) -> impl Iterator<Item = (ProbeId, &Probe)> {
        self.probes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i, p.as_ref()?)))
    }

    /// How many probes exist.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    fn live(&self, id: ProbeId, generation: u64) -> bool {
        self.probe(id).is_some_and(|p| p.generation == generation)
    }

    /// When something is next due (a start or a timeout).
    pub fn next_wakeup(&mut self) -> Option<Duration> {
        while let Some(Reverse((at, id, g))) = self.timers.peek().copied() {
            if self.live(id, g) {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    /// Everything due at `now`: probes to start (marked running, their
    /// timeout armed) and attempts that timed out (recorded as failures).
    pub fn poll(&mut self, now: Duration) -> Vec<Due> {
        let mut out = vec![];
        while let Some(Reverse((at, id, g))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if !self.live(id, g) {
                continue;
            }
            let p = self.probes[id].as_mut().expect("live probe");
            if p.running() {
                let ms = p.key.spec.timeout.as_millis();
                let t = self.complete(id, now, false, format!("timed out after {ms} ms"));
                out.push(Due::TimedOut(id, t));
            } else {
                p.started = Some(now);
                let late = now.saturating_sub(p.due);
                let deadline = now + p.key.spec.timeout;
                self.lateness.record(late);
                self.arm(id, deadline);
                out.push(Due::Start(id));
            }
        }
        out
    }

    /// Records the result of probe `id`'s running attempt, schedules the
    /// next one, and says what it did. A result for a probe that is not
    /// running (gone, or already timed out) is ignored.
    pub fn complete(&mut self, id: ProbeId, now: Duration, ok: bool, reason: String) -> Recorded {
        let Some(p) = self.probes.get_mut(id).and_then(Option::as_mut) else {
            return Recorded::default();
        };
        let Some(started) = p.started.take() else {
            return Recorded::default();
        };
        let was_settled = p.health.settled();
        p.last = Some(Outcome {
            ok,
            reason,
            latency: now.saturating_sub(started),
            at: now,
        });
        let t = p.health.record(now, ok, &p.key.spec);
        // Keep the phase: due times advance by the interval from the last
        // due time, not from when the result came in, so a slow server does
        // not drift its schedule; one that ran past its next turn goes now.
        let next = (p.due + p.health.next_interval(&p.key.spec)).max(now);
        p.due = next;
        let settled = t.is_none() && !was_settled && p.health.settled();
        self.arm(id, next);
        Recorded {
            transition: t,
            settled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CheckKind;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn key(last_octet: u8, port: u16) -> ProbeKey {
        ProbeKey {
            addr: IpAddr::from([198, 51, 100, last_octet]),
            spec: CheckSpec {
                kind: CheckKind::Tcp,
                port,
                interval: ms(1000),
                fast_interval: ms(100),
                down_interval: ms(3000),
                timeout: ms(300),
                rise: 2,
                fall: 2,
                initial_up: false,
            },
        }
    }

    fn starts(due: &[Due]) -> Vec<ProbeId> {
        due.iter()
            .filter_map(|d| match d {
                Due::Start(id) => Some(*id),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn identical_checks_are_one_probe() {
        let mut c = Checks::new(1);
        // Two services list rs .21 with the same check; .22 once; .21 on
        // another port is another probe.
        c.sync(
            [key(21, 80), key(21, 80), key(22, 80), key(21, 8080)],
            ms(0),
        );
        assert_eq!(c.len(), 3);
        let mut other = key(21, 80);
        other.spec.timeout = ms(301);
        c.sync([key(21, 80), key(21, 80), other], ms(0));
        assert_eq!(c.len(), 2, "another timeout is another spec");
    }

    #[test]
    fn starts_are_spread_over_the_first_interval() {
        let mut c = Checks::new(42);
        let keys: Vec<ProbeKey> = (0..1000u32).map(|i| key(1, 1 + i as u16)).collect();
        c.sync(keys, ms(0));
        let mut per_100ms = [0u32; 10];
        let mut seen = std::collections::HashSet::new();
        for t in 0..1000 {
            for id in starts(&c.poll(ms(t))) {
                if seen.insert(id) {
                    per_100ms[t as usize / 100] += 1;
                }
                c.complete(id, ms(t), true, "ok".into());
            }
        }
        assert_eq!(
            per_100ms.iter().sum::<u32>(),
            1000,
            "every probe started once in the first interval"
        );
        for n in per_100ms {
            assert!((60..=140).contains(&n), "uneven spread: {per_100ms:?}");
        }
    }

    /// Runs probe 0 of a single-key set, answering each start with the
    /// next result from `results`; returns (start time ms, up after).
    fn drive(c: &mut Checks, results: &str, until: u64) -> Vec<(u64, bool)> {
        let mut out = vec![];
        let mut it = results.chars();
        for t in 0..=until {
            for d in c.poll(ms(t)) {
                if let Due::Start(id) = d {
                    match it.next() {
                        Some('+') => _ = c.complete(id, ms(t + 5), true, "ok".into()),
                        Some('-') => _ = c.complete(id, ms(t + 5), false, "refused".into()),
                        _ => {} // never answers: times out
                    }
                    out.push((t, c.probe(id).unwrap().health.is_up()));
                }
            }
        }
        out
    }

    #[test]
    fn intervals_follow_health_and_keep_their_phase() {
        let mut c = Checks::new(7);
        c.sync([key(21, 80)], ms(0));
        let first = c.next_wakeup().unwrap();
        assert!(first < ms(1000));
        let f = first.as_millis() as u64;
        // down (not probed: fast) -> + (rising: fast) -> + up (inter) ->
        // - (falling: fast) -> - down (downinter) -> ...
        let runs = drive(&mut c, "++--+", f + 5000);
        let times: Vec<u64> = runs.iter().map(|r| r.0 - f).collect();
        assert_eq!(times, [0, 100, 1100, 1200, 4200, 4300]);
        let ups: Vec<bool> = runs.iter().map(|r| r.1).collect();
        assert_eq!(ups, [false, true, true, false, false, false]);
    }

    #[test]
    fn a_probe_that_never_answers_times_out_as_a_failure() {
        let mut c = Checks::new(3);
        let mut k = key(21, 80);
        k.spec.rise = 1;
        k.spec.fall = 1;
        c.sync([k], ms(0));
        let f = c.next_wakeup().unwrap().as_millis() as u64;
        assert_eq!(starts(&c.poll(ms(f))), [0]);
        assert_eq!(c.poll(ms(f + 299)), []);
        let first_failure = Recorded {
            transition: None,
            settled: true,
        };
        assert_eq!(
            c.poll(ms(f + 300)),
            [Due::TimedOut(0, first_failure)],
            "down already: no transition"
        );
        let p = c.probe(0).unwrap();
        assert_eq!(p.last.as_ref().unwrap().reason, "timed out after 300 ms");
        assert!(!p.running());
        // A result arriving after the timeout is ignored.
        assert_eq!(
            c.complete(0, ms(f + 310), true, "late".into()),
            Recorded::default()
        );
        assert_eq!(
            c.probe(0).unwrap().last.as_ref().unwrap().reason,
            "timed out after 300 ms"
        );
        // The next run comes at downinter from the previous due time.
        assert_eq!(c.next_wakeup(), Some(ms(f + 3000)));
    }

    #[test]
    fn a_slow_probe_delays_its_next_run_without_piling_up() {
        let mut c = Checks::new(5);
        let mut k = key(21, 80);
        k.spec.timeout = ms(2500);
        k.spec.interval = ms(1000);
        k.spec.fast_interval = ms(1000);
        c.sync([k], ms(0));
        let f = c.next_wakeup().unwrap();
        assert_eq!(starts(&c.poll(f)), [0]);
        assert_eq!(c.poll(f + ms(1000)), [], "one attempt at a time");
        c.complete(0, f + ms(1800), true, "slow".into());
        assert_eq!(c.next_wakeup(), Some(f + ms(1800)), "overdue: now");
        assert_eq!(starts(&c.poll(f + ms(1800))), [0]);
        assert_eq!(c.lateness.max_us, 0);
    }

    #[test]
    fn sync_keeps_state_and_cancels_what_goes() {
        let mut c = Checks::new(9);
        let mut hangs = key(22, 80);
        hangs.spec.timeout = ms(5000);
        c.sync([key(21, 80), hangs.clone()], ms(0));
        for t in 0..1000 {
            for id in starts(&c.poll(ms(t))) {
                if c.probe(id).unwrap().key == key(21, 80) {
                    c.complete(id, ms(t), true, "ok".into());
                }
            }
        }
        let p21 = c.find(&key(21, 80)).unwrap();
        assert!(p21.health.is_up());
        let transitions = p21.health.transitions();
        assert!(c.find(&hangs).unwrap().running(), "the .22 probe hangs");
        let cancelled = c.sync([key(21, 80), key(23, 80)], ms(1000));
        assert_eq!(cancelled.len(), 1, "the running .22 probe is cancelled");
        let p21 = c.find(&key(21, 80)).unwrap();
        assert!(
            p21.health.is_up() && p21.health.transitions() == transitions,
            "kept"
        );
        assert!(c.find(&hangs).is_none());
        assert!(
            !c.find(&key(23, 80)).unwrap().health.is_up(),
            "new: down until it rises"
        );
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn a_reused_slot_never_fires_the_old_probes_timer() {
        let mut c = Checks::new(13);
        c.sync([key(21, 80)], ms(0));
        let f = c.next_wakeup().unwrap();
        assert_eq!(starts(&c.poll(f)), [0]);
        let mut slow = key(22, 80);
        slow.spec.interval = ms(10_000);
        c.sync([slow], f);
        assert!(c.probe(0).is_some(), "the slot is reused");
        // The old probe's deadline (f + 300) passes: nothing times out.
        for d in c.poll(f + ms(300)) {
            assert!(matches!(d, Due::Start(0)), "{d:?}");
        }
    }

    #[test]
    fn lateness_is_measured_against_the_schedule() {
        let mut c = Checks::new(11);
        c.lateness.samples = Some(vec![]);
        c.sync([key(21, 80)], ms(0));
        let f = c.next_wakeup().unwrap();
        c.poll(f + ms(7));
        assert_eq!(c.lateness.samples.as_deref(), Some(&[7000u32][..]));
        assert_eq!((c.lateness.count, c.lateness.max_us), (1, 7000));
        assert_eq!(c.lateness.buckets[13], 1, "7 ms < 2^13 µs");
        assert_eq!(c.lateness.percentile(0.99), Some(7000));
    }

    #[test]
    fn percentiles_cover_the_recent_starts() {
        let mut l = Lateness::default();
        assert_eq!(l.percentile(0.5), None);
        for us in 1..=100u64 {
            l.record(Duration::from_micros(us));
        }
        assert_eq!(
            (
                l.percentile(0.0),
                l.percentile(0.5),
                l.percentile(0.99),
                l.percentile(1.0)
            ),
            (Some(1), Some(51), Some(99), Some(100))
        );
        for _ in 0..RECENT {
            l.record(Duration::from_micros(5));
        }
        assert_eq!(
            l.percentile(1.0),
            Some(5),
            "the old samples left the window"
        );
        assert_eq!((l.recent_len(), l.max_us), (RECENT, 100));
    }
}
