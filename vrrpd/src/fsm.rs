//! The VRRP state machine of RFC 5798 §6.4 (and RFC 3768 §6.4 for v2),
//! without I/O.
//!
//! The caller feeds [`Event`]s with the current monotonic time (a
//! [`Duration`] since any fixed origin) into [`Instance::handle`], carries
//! out the returned [`Action`]s in order, and calls `handle(now,
//! Event::Timer)` once [`Instance::next_deadline`] has passed. Received
//! adverts must first pass [`crate::packet::RxCheck`].
//!
//! Beyond the RFC, as keepalived, an instance is in Fault while its
//! interface is down; and, so that an instance that cannot do its job is
//! never master, while it is unable to: when adding its VIPs or switching
//! drlb failed ([`Event::Unable`]) it resigns with a priority-0 advert so
//! that a backup takes over, and it asks the caller to check again
//! ([`Action::Retry`]) after a backoff, until the check passes
//! ([`Event::Able`]).
//!
//! Two more holds keep an instance in Fault, as keepalived's: a tracked
//! script, file or interface without a weight that failed
//! ([`Hold::Track`]), and another member of its sync group in Fault
//! ([`Hold::Group`]). An instance in a sync group ([`Instance::set_synced`])
//! does not become master by itself when its Master_Down_Timer fires: it
//! says it wants to ([`Action::WantMaster`]) and waits for its group
//! ([`Event::SyncMaster`]); see [`crate::sync`].

use crate::packet::Version;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Centisecond, the unit of VRRPv3 intervals.
const CENTISECOND: Duration = Duration::from_millis(10);
/// Priority of the address owner.
pub const OWNER_PRIORITY: u8 = 255;
/// Priority a resigning master advertises.
pub const RESIGN_PRIORITY: u8 = 0;
/// The first wait of an instance that is unable, before it asks for a
/// check ([`Action::Retry`]); it doubles with each check that fails.
pub const RETRY_MIN: Duration = Duration::from_secs(1);
/// The longest wait between two checks.
pub const RETRY_MAX: Duration = Duration::from_secs(30);

/// What an [`Instance`] is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Params {
    /// Virtual router ID.
    pub vrid: u8,
    /// Local priority, 1..=255; 255 is the address owner.
    pub priority: u8,
    /// Protocol version; v2 never learns the master's interval and uses a
    /// skew of (256 − Priority)/256 s.
    pub version: Version,
    /// Advertisement_Interval in centiseconds (v2: a multiple of 100).
    pub advert_interval_cs: u16,
    /// Preempt_Mode: take over from a lower-priority master.
    pub preempt: bool,
    /// Keepalived's preempt_delay: after first seeing a lower-priority
    /// master, keep accepting it this long before preempting.
    pub preempt_delay: Duration,
    /// The local primary address, compared with a master's source address
    /// to break priority ties.
    pub primary_addr: IpAddr,
}

/// Why [`Instance::new`] refused its [`Params`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamsError {
    /// Priority 0 is reserved for a resigning master.
    ZeroPriority,
    /// An advertisement interval of zero.
    ZeroInterval,
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamsError::ZeroPriority => "priority must be 1..=255",
            ParamsError::ZeroInterval => "advertisement interval must not be zero",
        })
    }
}

impl std::error::Error for ParamsError {}

/// The protocol state (RFC 5798 §6.4), plus keepalived's Fault state for
/// a down interface, and for an instance unable to do a master's job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Not started, or shut down.
    Initialize,
    /// Monitoring the master; takes over when Master_Down_Timer fires.
    Backup,
    /// Owns the virtual addresses and advertises.
    Master,
    /// Started but the interface is down, or the instance is unable to do
    /// a master's job; resumes once both are fixed ([`Event::InterfaceUp`],
    /// [`Event::Able`]).
    Fault,
}

/// What, beyond its interface and its ability, holds an instance in
/// Fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hold {
    /// A tracked script, file or interface without a weight failed.
    Track,
    /// Another member of its sync group is in Fault.
    Group,
}

impl Hold {
    fn bit(self) -> u8 {
        match self {
            Hold::Track => 1,
            Hold::Group => 2,
        }
    }
}

/// Something that happened to the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Start the instance (RFC "Startup event").
    Startup,
    /// Stop the instance (RFC "Shutdown event").
    Shutdown,
    /// The interface (and every tracked one) is up again.
    InterfaceUp,
    /// The interface (or a tracked one) went down.
    InterfaceDown,
    /// [`Instance::next_deadline`] has passed.
    Timer,
    /// The instance cannot do a master's job: adding its VIPs or switching
    /// drlb failed, or the check that [`Action::Retry`] asked for found it
    /// still cannot. A master resigns; the instance stays in Fault until
    /// [`Event::Able`], and asks for a check again after a backoff
    /// ([`RETRY_MIN`] doubling to [`RETRY_MAX`]).
    Unable,
    /// The check that [`Action::Retry`] asked for passed: the instance
    /// starts again (backup, or master for the owner) if its interface is
    /// up.
    Able,
    /// Held in Fault for this reason (a master resigns); nothing if it
    /// already was.
    Hold(Hold),
    /// No longer held for this reason: the instance starts again (backup)
    /// if nothing else holds it.
    Release(Hold),
    /// Its sync group goes master: a backup becomes master.
    SyncMaster,
    /// Its sync group goes backup: a master resigns (priority 0) and
    /// becomes backup.
    SyncBackup,
    /// An advert that passed the receive checks.
    Advert {
        /// The sender's priority.
        priority: u8,
        /// The advert's interval in centiseconds (v2: seconds × 100).
        max_adver_int_cs: u16,
        /// The sender's (IP source) address, for the tie-break.
        src_addr: IpAddr,
    },
}

/// What the caller must do, in the order returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an advert with this priority (0: resigning). When leaving
    /// Master for Fault the send may fail if the link is down; that's fine.
    SendAdvert {
        /// Priority to advertise.
        priority: u8,
    },
    /// Now master: add the VIPs, send gratuitous ARP / unsolicited NA,
    /// switch drlb to active.
    BecomeMaster,
    /// Now backup: switch drlb to standby first, then remove any VIPs.
    BecomeBackup,
    /// Now in Initialize: release the VIPs if held, drlb standby.
    EnterInit,
    /// Now in Fault: release the VIPs if held, drlb standby.
    EnterFault,
    /// In Fault and unable: check, without taking the VIPs, whether the
    /// instance could do a master's job now, and answer with
    /// [`Event::Able`] or [`Event::Unable`].
    Retry,
    /// A backup in a sync group whose Master_Down_Timer fired: it would
    /// become master, and waits for its group to ([`Event::SyncMaster`]).
    WantMaster,
}

/// One virtual router's protocol state.
#[derive(Clone, Debug)]
pub struct Instance {
    params: Params,
    state: State,
    iface_up: bool,
    master_adver_interval: Duration,
    adver_timer: Option<Duration>,
    master_down_timer: Option<Duration>,
    preempt_at: Option<Duration>,
    /// Not known to be unable to do a master's job.
    able: bool,
    /// When an unable instance asks for its next check.
    retry_timer: Option<Duration>,
    /// The wait before the next check after that one.
    retry_backoff: Duration,
    /// [`Hold`]s, as bits.
    held: u8,
    /// In a sync group: master only when the group says so.
    synced: bool,
    /// A synced backup whose Master_Down_Timer fired, and that no advert
    /// has told since to stay backup.
    wants_master: bool,
    /// Preemption is held ([`Instance::hold_preemption`]).
    preemption_held: bool,
}

impl Instance {
    /// A new instance in [`State::Initialize`], its interface taken as up.
    pub fn new(params: Params) -> Result<Self, ParamsError> {
        if params.priority == 0 {
            return Err(ParamsError::ZeroPriority);
        }
        if params.advert_interval_cs == 0 {
            return Err(ParamsError::ZeroInterval);
        }
        let master_adver_interval = CENTISECOND * u32::from(params.advert_interval_cs);
        Ok(Instance {
            params,
            state: State::Initialize,
            iface_up: true,
            master_adver_interval,
            adver_timer: None,
            master_down_timer: None,
            preempt_at: None,
            able: true,
            retry_timer: None,
            retry_backoff: RETRY_MIN,
            held: 0,
            synced: false,
            wants_master: false,
            preemption_held: false,
        })
    }

    /// The configuration.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether it is unable to do a master's job (since [`Event::Unable`],
    /// until [`Event::Able`]).
    pub fn unable(&self) -> bool {
        !self.able
    }

    /// Puts it in a sync group (or takes it out): a synced backup becomes
    /// master only on [`Event::SyncMaster`].
    pub fn set_synced(&mut self, synced: bool) {
        self.synced = synced;
        if !synced {
            self.wants_master = false;
        }
    }

    /// Whether it is a synced backup that wants to become master.
    pub fn wants_master(&self) -> bool {
        self.wants_master && self.state == State::Backup
    }

    /// Holds preemption (or lets it go): while held, a backup accepts a
    /// lower-priority master's adverts as if it did not preempt, so it
    /// stays backup; the master going away (its adverts stop, or it
    /// resigns) still makes it master. Connection sync holds it while a
    /// returning director has not got the table yet.
    pub fn hold_preemption(&mut self, hold: bool) {
        self.preemption_held = hold;
        if hold {
            self.preempt_at = None;
        }
    }

    /// Whether preemption is held.
    pub fn preemption_held(&self) -> bool {
        self.preemption_held
    }

    /// Whether `hold` holds it.
    pub fn held(&self, hold: Hold) -> bool {
        self.held & hold.bit() != 0
    }

    /// Whether something of its own keeps it from running: its
    /// interface, its inability, or its tracking (not its group).
    pub fn own_fault(&self) -> bool {
        !self.iface_up || !self.able || self.held(Hold::Track)
    }

    /// Whether nothing holds it in Fault.
    fn can_run(&self) -> bool {
        self.iface_up && self.able && self.held == 0
    }

    /// When to deliver [`Event::Timer`] next, if any timer runs.
    pub fn next_deadline(&self) -> Option<Duration> {
        [self.adver_timer, self.master_down_timer, self.retry_timer]
            .into_iter()
            .flatten()
            .min()
    }

    /// When an unable instance next asks for a check, if it is waiting to.
    pub fn next_retry(&self) -> Option<Duration> {
        self.retry_timer
    }

    /// Advertisement_Interval: how often a master advertises.
    pub fn advertisement_interval(&self) -> Duration {
        CENTISECOND * u32::from(self.params.advert_interval_cs)
    }

    /// Master_Adver_Interval: the master's interval as learned (v3), or
    /// ours (v2, and v3 before any advert).
    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// Skew_Time: v3 ((256 − Priority) × Master_Adver_Interval) / 256,
    /// v2 (256 − Priority) / 256 s.
    pub fn skew_time(&self) -> Duration {
        let base = match self.params.version {
            Version::V3 => self.master_adver_interval,
            Version::V2 => Duration::from_secs(1),
        };
        base * (256 - u32::from(self.params.priority)) / 256
    }

    /// Master_Down_Interval: 3 × Master_Adver_Interval + Skew_Time.
    pub fn master_down_interval(&self) -> Duration {
        self.master_adver_interval * 3 + self.skew_time()
    }

    /// Apply `event` at time `now`; returns what the caller must do.
    pub fn handle(&mut self, now: Duration, event: Event) -> Vec<Action> {
        match event {
            Event::InterfaceUp => self.interface_up(now),
            Event::InterfaceDown => self.interface_down(now),
            Event::Unable => self.unable_event(now),
            Event::Able => self.able_event(now),
            Event::Hold(h) => self.hold(now, h),
            Event::Release(h) => self.release(now, h),
            Event::SyncMaster if self.state == State::Backup => self.become_master(now),
            Event::SyncBackup if self.state == State::Master => {
                let mut actions = self.leave();
                actions.extend(self.become_backup(now));
                actions
            }
            Event::SyncMaster | Event::SyncBackup => Vec::new(),
            Event::Shutdown => self.shutdown(),
            Event::Timer if self.state == State::Fault => self.fault_timer(now),
            _ => match self.state {
                State::Initialize => self.initialize(now, event),
                State::Backup => self.backup(now, event),
                State::Master => self.master(now, event),
                State::Fault => Vec::new(),
            },
        }
    }

    /// §6.4.1 Initialize: only Startup matters.
    fn initialize(&mut self, now: Duration, event: Event) -> Vec<Action> {
        match event {
            Event::Startup if !self.can_run() => self.enter_fault(now),
            Event::Startup => self.startup(now),
            _ => Vec::new(),
        }
    }

    /// §6.4.1 Startup: the owner becomes master at once, others backup.
    fn startup(&mut self, now: Duration) -> Vec<Action> {
        if self.params.priority == OWNER_PRIORITY {
            self.become_master(now)
        } else {
            self.master_adver_interval = self.advertisement_interval();
            self.become_backup(now)
        }
    }

    /// §6.4.2 Backup.
    fn backup(&mut self, now: Duration, event: Event) -> Vec<Action> {
        match event {
            Event::Timer if self.master_down_timer.is_some_and(|t| t <= now) => {
                if self.synced {
                    // (keepalived: wait for the others, the timer re-armed)
                    self.wants_master = true;
                    self.master_down_timer = Some(now + self.master_down_interval());
                    vec![Action::WantMaster]
                } else {
                    self.become_master(now)
                }
            }
            Event::Advert {
                priority,
                max_adver_int_cs,
                ..
            } => {
                self.backup_advert(now, priority, max_adver_int_cs);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn backup_advert(&mut self, now: Duration, priority: u8, max_adver_int_cs: u16) {
        let local = self.params.priority;
        if priority == RESIGN_PRIORITY {
            self.master_down_timer = Some(now + self.skew_time());
        } else if !self.params.preempt
            || priority >= local
            || self.preemption_held
            || self.preempt_delayed(now)
        {
            if priority >= local {
                self.preempt_at = None;
            }
            self.wants_master = false;
            self.learn_interval(max_adver_int_cs);
            self.master_down_timer = Some(now + self.master_down_interval());
        }
        // else: preempting a lower-priority master; discard, let the timer run.
    }

    /// Whether preemption of a lower-priority master is still held off by
    /// preempt_delay; starts the delay on the first such advert.
    fn preempt_delayed(&mut self, now: Duration) -> bool {
        if self.params.preempt_delay.is_zero() {
            return false;
        }
        let at = *self
            .preempt_at
            .get_or_insert(now + self.params.preempt_delay);
        now < at
    }

    /// v3 backups take the master's interval (never below 1 cs); v2 keeps
    /// its own, which the receive checks made equal.
    fn learn_interval(&mut self, max_adver_int_cs: u16) {
        if self.params.version == Version::V3 {
            self.master_adver_interval = CENTISECOND * u32::from(max_adver_int_cs.max(1));
        }
    }

    /// §6.4.3 Master.
    fn master(&mut self, now: Duration, event: Event) -> Vec<Action> {
        match event {
            Event::Timer if self.adver_timer.is_some_and(|t| t <= now) => {
                // A master that held for an interval did its job: the next
                // failure is retried soon again.
                self.retry_backoff = RETRY_MIN;
                let due = self.adver_timer.unwrap_or(now);
                let actions = self.advertise(now);
                // The next advert is due one interval after this one was
                // due, not after it was sent: the time the loop took to
                // wake up and get here does not add up from advert to
                // advert. One that is late by a whole interval or more
                // starts afresh from now, rather than sending a burst.
                let next = due + self.advertisement_interval();
                if next > now {
                    self.adver_timer = Some(next);
                }
                actions
            }
            Event::Advert {
                priority: RESIGN_PRIORITY,
                ..
            } => self.advertise(now),
            Event::Advert {
                priority,
                max_adver_int_cs,
                src_addr,
            } => {
                if self.loses_to(priority, src_addr) {
                    self.learn_interval(max_adver_int_cs);
                    self.become_backup(now)
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }

    /// Whether a master yields to an advert: higher priority, or equal
    /// priority from a greater primary address (unsigned, network order).
    fn loses_to(&self, priority: u8, src_addr: IpAddr) -> bool {
        let local = self.params.priority;
        priority > local || (priority == local && src_addr > self.params.primary_addr)
    }

    fn advertise(&mut self, now: Duration) -> Vec<Action> {
        self.adver_timer = Some(now + self.advertisement_interval());
        vec![Action::SendAdvert {
            priority: self.params.priority,
        }]
    }

    fn become_master(&mut self, now: Duration) -> Vec<Action> {
        self.state = State::Master;
        self.wants_master = false;
        self.master_down_timer = None;
        self.preempt_at = None;
        let mut actions = self.advertise(now);
        actions.push(Action::BecomeMaster);
        actions
    }

    /// Changes the priority in place, as a reload does when nothing else
    /// of the instance changed. A master advertises the new priority at
    /// once, so that a backup it no longer outranks preempts it; a backup
    /// uses it from the next advert on. Not for the owner priority (255),
    /// which changes how an instance starts: restart such an instance.
    pub fn set_priority(&mut self, now: Duration, priority: u8) -> Vec<Action> {
        debug_assert!(priority != 0 && priority != OWNER_PRIORITY);
        if priority == self.params.priority {
            return Vec::new();
        }
        self.params.priority = priority;
        match self.state {
            State::Master => self.advertise(now),
            _ => Vec::new(),
        }
    }

    /// Changes the primary address (the interface was made anew with
    /// another one); it only breaks ties from the next advert on.
    pub fn set_primary_addr(&mut self, addr: IpAddr) {
        self.params.primary_addr = addr;
    }

    fn become_backup(&mut self, now: Duration) -> Vec<Action> {
        self.state = State::Backup;
        self.wants_master = false;
        self.adver_timer = None;
        self.preempt_at = None;
        self.master_down_timer = Some(now + self.master_down_interval());
        vec![Action::BecomeBackup]
    }

    /// Leave Master (resigning with a priority-0 advert) or Backup: cancel
    /// the timers.
    fn leave(&mut self) -> Vec<Action> {
        let resign = self.state == State::Master;
        self.adver_timer = None;
        self.master_down_timer = None;
        self.preempt_at = None;
        self.wants_master = false;
        if resign {
            vec![Action::SendAdvert {
                priority: RESIGN_PRIORITY,
            }]
        } else {
            Vec::new()
        }
    }

    /// §6.4.2 (305) / §6.4.3 (605) Shutdown; also ends Fault.
    fn shutdown(&mut self) -> Vec<Action> {
        self.retry_timer = None;
        if self.state == State::Initialize {
            return Vec::new();
        }
        let mut actions = self.leave();
        self.state = State::Initialize;
        actions.push(Action::EnterInit);
        actions
    }

    fn enter_fault(&mut self, now: Duration) -> Vec<Action> {
        let mut actions = self.leave();
        self.state = State::Fault;
        if !self.able {
            self.schedule_retry(now);
        }
        actions.push(Action::EnterFault);
        actions
    }

    /// The next check of an unable instance, and the wait after it.
    fn schedule_retry(&mut self, now: Duration) {
        self.retry_timer = Some(now + self.retry_backoff);
        self.retry_backoff = (self.retry_backoff * 2).min(RETRY_MAX);
    }

    fn interface_down(&mut self, now: Duration) -> Vec<Action> {
        self.iface_up = false;
        match self.state {
            State::Backup | State::Master => self.enter_fault(now),
            State::Initialize | State::Fault => Vec::new(),
        }
    }

    /// Leaving Fault runs the Initialize Startup branch again, once the
    /// instance is able too.
    fn interface_up(&mut self, now: Duration) -> Vec<Action> {
        self.iface_up = true;
        match self.state {
            State::Fault if self.can_run() => self.startup(now),
            _ => Vec::new(),
        }
    }

    fn hold(&mut self, now: Duration, hold: Hold) -> Vec<Action> {
        self.held |= hold.bit();
        match self.state {
            State::Backup | State::Master => self.enter_fault(now),
            State::Initialize | State::Fault => Vec::new(),
        }
    }

    fn release(&mut self, now: Duration, hold: Hold) -> Vec<Action> {
        self.held &= !hold.bit();
        match self.state {
            State::Fault if self.can_run() => self.startup(now),
            _ => Vec::new(),
        }
    }

    /// A master resigns (priority 0) so that a backup takes over; any
    /// instance waits in Fault for its next check.
    fn unable_event(&mut self, now: Duration) -> Vec<Action> {
        self.able = false;
        match self.state {
            State::Backup | State::Master => self.enter_fault(now),
            State::Fault => {
                self.schedule_retry(now);
                Vec::new()
            }
            // (Startup will enter Fault)
            State::Initialize => Vec::new(),
        }
    }

    fn able_event(&mut self, now: Duration) -> Vec<Action> {
        self.able = true;
        self.retry_timer = None;
        match self.state {
            State::Fault if self.can_run() => self.startup(now),
            _ => Vec::new(),
        }
    }

    /// In Fault, only the retry timer runs.
    fn fault_timer(&mut self, now: Duration) -> Vec<Action> {
        if self.retry_timer.is_some_and(|t| t <= now) {
            self.retry_timer = None;
            vec![Action::Retry]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use Action::*;
    use Event::*;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    const LOWER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const HIGHER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 3));

    fn params() -> Params {
        Params {
            vrid: 51,
            priority: 100,
            version: Version::V3,
            advert_interval_cs: 100,
            preempt: true,
            preempt_delay: Duration::ZERO,
            primary_addr: LOCAL,
        }
    }

    fn us(micros: u64) -> Duration {
        Duration::from_micros(micros)
    }

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    fn advert(priority: u8, max_adver_int_cs: u16, src_addr: IpAddr) -> Event {
        Advert {
            priority,
            max_adver_int_cs,
            src_addr,
        }
    }

    #[derive(Clone, Copy, Debug)]
    enum Start {
        Init,
        Backup,
        Master,
        Fault,
    }

    /// Bring an instance into `start`; returns it and the time it got there.
    fn reach(p: Params, start: Start) -> (Instance, Duration) {
        let mut i = Instance::new(p).unwrap();
        let zero = Duration::ZERO;
        match start {
            Start::Init => {}
            Start::Backup => assert_eq!(i.handle(zero, Startup), [BecomeBackup]),
            Start::Master => {
                i.handle(zero, Startup);
                let t = i.next_deadline().unwrap();
                i.handle(t, Timer);
                assert_eq!(i.state(), State::Master);
                return (i, t);
            }
            Start::Fault => {
                i.handle(zero, Startup);
                i.handle(zero, InterfaceDown);
            }
        }
        (i, zero)
    }

    /// One transition: from `start` (with `params`), `event` at `at` after
    /// reaching it yields `actions`, `state` and `deadline` (also relative).
    struct Row {
        clause: &'static str,
        params: Params,
        start: Start,
        at: Duration,
        event: Event,
        actions: &'static [Action],
        state: State,
        deadline: Option<Duration>,
    }

    fn run(rows: Vec<Row>) {
        for r in rows {
            let (mut i, base) = reach(r.params, r.start);
            let actions = i.handle(base + r.at, r.event);
            let deadline = i.next_deadline().map(|d| d - base);
            assert_eq!(actions, r.actions, "{}: actions", r.clause);
            assert_eq!(i.state(), r.state, "{}: state", r.clause);
            assert_eq!(deadline, r.deadline, "{}: deadline", r.clause);
        }
    }

    /// Master_Down_Interval at priority 100 and 1 s: 3 s + 156/256 s.
    const MDI_100: Duration = Duration::from_micros(3_609_375);

    fn row(clause: &'static str, start: Start, at: Duration, event: Event) -> Row {
        Row {
            clause,
            params: params(),
            start,
            at,
            event,
            actions: &[],
            state: State::Initialize,
            deadline: None,
        }
    }

    #[test]
    fn rfc5798_6_4_1_initialize() {
        let owner = Params {
            priority: 255,
            ..params()
        };
        run(vec![
            Row {
                params: owner,
                actions: &[SendAdvert { priority: 255 }, BecomeMaster],
                state: State::Master,
                deadline: Some(ms(1000)),
                ..row(
                    "6.4.1 (110)-(135) owner: advert, ARP, Adver_Timer, Master",
                    Start::Init,
                    ms(0),
                    Startup,
                )
            },
            Row {
                actions: &[BecomeBackup],
                state: State::Backup,
                deadline: Some(MDI_100),
                ..row(
                    "6.4.1 (140)-(155) Master_Down_Timer, Backup",
                    Start::Init,
                    ms(0),
                    Startup,
                )
            },
            row(
                "6.4.1 ignores adverts",
                Start::Init,
                ms(5),
                advert(200, 100, HIGHER),
            ),
            row("6.4.1 ignores timers", Start::Init, ms(5), Timer),
            row("6.4.1 ignores Shutdown", Start::Init, ms(5), Shutdown),
            row(
                "interface events only recorded",
                Start::Init,
                ms(5),
                InterfaceUp,
            ),
            row(
                "interface events only recorded",
                Start::Init,
                ms(5),
                InterfaceDown,
            ),
        ]);
    }

    #[test]
    fn rfc5798_6_4_2_backup() {
        let backup = |clause, at, event| Row {
            state: State::Backup,
            deadline: Some(MDI_100),
            ..row(clause, Start::Backup, at, event)
        };
        let v2 = Params {
            version: Version::V2,
            ..params()
        };
        run(vec![
            Row {
                actions: &[EnterInit],
                ..row(
                    "6.4.2 (305)-(315) Shutdown: cancel timer, Initialize",
                    Start::Backup,
                    ms(5),
                    Shutdown,
                )
            },
            Row {
                actions: &[SendAdvert { priority: 100 }, BecomeMaster],
                state: State::Master,
                deadline: Some(MDI_100 + ms(1000)),
                ..row(
                    "6.4.2 (320)-(345) Master_Down_Timer fires: advert, ARP, Master",
                    Start::Backup,
                    MDI_100,
                    Timer,
                )
            },
            backup("6.4.2 (320) timer not yet due", MDI_100 - us(1), Timer),
            Row {
                deadline: Some(ms(500) + us(609_375)),
                ..backup(
                    "6.4.2 (355)-(360) priority 0: Master_Down_Timer = Skew_Time",
                    ms(500),
                    advert(0, 100, LOWER),
                )
            },
            Row {
                // learned 0.5 s: 1.5 s + 156 × 0.5 s / 256
                deadline: Some(ms(500) + Duration::from_nanos(1_804_687_500)),
                ..backup(
                    "6.4.2 (370)-(385) higher priority: learn interval, reset timer",
                    ms(500),
                    advert(150, 50, LOWER),
                )
            },
            Row {
                deadline: Some(ms(500) + MDI_100),
                ..backup(
                    "6.4.2 (370)-(385) equal priority, any address: reset",
                    ms(500),
                    advert(100, 100, HIGHER),
                )
            },
            Row {
                deadline: Some(ms(500) + MDI_100),
                ..backup(
                    "6.4.2 (370)-(385) equal priority, lower address: reset",
                    ms(500),
                    advert(100, 100, LOWER),
                )
            },
            Row {
                params: Params {
                    preempt: false,
                    ..params()
                },
                deadline: Some(ms(500) + MDI_100),
                ..backup(
                    "6.4.2 (370)-(385) preempt off, lower priority: reset",
                    ms(500),
                    advert(50, 100, LOWER),
                )
            },
            backup(
                "6.4.2 (390)-(395) preempt on, lower priority: discard",
                ms(500),
                advert(50, 100, LOWER),
            ),
            Row {
                params: v2.clone(),
                deadline: Some(ms(500) + MDI_100),
                ..backup(
                    "RFC 3768 6.4.2: v2 does not learn the interval",
                    ms(500),
                    advert(150, 50, LOWER),
                )
            },
            Row {
                params: v2,
                deadline: Some(ms(500) + us(609_375)),
                ..backup(
                    "RFC 3768 6.4.2: v2 priority 0 -> Skew_Time",
                    ms(500),
                    advert(0, 100, LOWER),
                )
            },
            Row {
                actions: &[EnterFault],
                state: State::Fault,
                deadline: None,
                ..backup("interface down: Fault", ms(500), InterfaceDown)
            },
            backup("Startup ignored", ms(500), Startup),
        ]);
    }

    #[test]
    fn adverts_keep_to_their_deadlines_whatever_the_wakeup_latency() {
        let (mut i, t0) = reach(params(), Start::Master);
        // Woken 3 ms late each time: the deadlines stay on the 1 s grid.
        let mut due = t0 + ms(1000);
        for _ in 0..10 {
            assert_eq!(i.next_deadline(), Some(due));
            assert_eq!(i.handle(due + ms(3), Timer), [SendAdvert { priority: 100 }]);
            due += ms(1000);
        }
        assert_eq!(i.next_deadline(), Some(due));
        // Late by more than an interval: no burst, one interval from now.
        let late = due + ms(2500);
        assert_eq!(i.handle(late, Timer), [SendAdvert { priority: 100 }]);
        assert_eq!(i.next_deadline(), Some(late + ms(1000)));
    }

    #[test]
    fn rfc5798_6_4_3_master() {
        let master = |clause, at, event| Row {
            state: State::Master,
            deadline: Some(ms(1000)),
            ..row(clause, Start::Master, at, event)
        };
        run(vec![
            Row {
                actions: &[SendAdvert { priority: 0 }, EnterInit],
                ..row(
                    "6.4.3 (605)-(620) Shutdown: cancel, priority 0 advert, Initialize",
                    Start::Master,
                    ms(5),
                    Shutdown,
                )
            },
            Row {
                actions: &[SendAdvert { priority: 100 }],
                deadline: Some(ms(2000)),
                ..master(
                    "6.4.3 (625)-(635) Adver_Timer: advert, reset",
                    ms(1000),
                    Timer,
                )
            },
            master("6.4.3 (625) timer not yet due", ms(999), Timer),
            Row {
                actions: &[SendAdvert { priority: 100 }],
                deadline: Some(ms(1300)),
                ..master(
                    "6.4.3 (645)-(655) priority 0: advert, reset Adver_Timer",
                    ms(300),
                    advert(0, 100, HIGHER),
                )
            },
            Row {
                actions: &[BecomeBackup],
                state: State::Backup,
                // learned 2 s: 6 s + 156 × 2 s / 256
                deadline: Some(ms(300) + us(7_218_750)),
                ..master(
                    "6.4.3 (665)-(695) higher priority: learn, Master_Down_Timer, Backup",
                    ms(300),
                    advert(150, 200, LOWER),
                )
            },
            Row {
                actions: &[BecomeBackup],
                state: State::Backup,
                deadline: Some(ms(300) + MDI_100),
                ..master(
                    "6.4.3 (665)-(695) equal priority, higher address: Backup",
                    ms(300),
                    advert(100, 100, HIGHER),
                )
            },
            master(
                "6.4.3 (700)-(705) equal priority, lower address: discard",
                ms(300),
                advert(100, 100, LOWER),
            ),
            master(
                "6.4.3 (700)-(705) lower priority: discard",
                ms(300),
                advert(99, 100, HIGHER),
            ),
            Row {
                actions: &[SendAdvert { priority: 0 }, EnterFault],
                state: State::Fault,
                deadline: None,
                ..master("interface down: resign, Fault", ms(300), InterfaceDown)
            },
        ]);
    }

    #[test]
    fn fault_state() {
        let fault = |clause, event| Row {
            state: State::Fault,
            ..row(clause, Start::Fault, ms(5), event)
        };
        run(vec![
            Row {
                actions: &[BecomeBackup],
                state: State::Backup,
                deadline: Some(ms(5) + MDI_100),
                ..fault("interface up: Startup again", InterfaceUp)
            },
            Row {
                params: Params {
                    priority: 255,
                    ..params()
                },
                actions: &[SendAdvert { priority: 255 }, BecomeMaster],
                state: State::Master,
                deadline: Some(ms(1005)),
                ..fault("interface up, owner: Master", InterfaceUp)
            },
            Row {
                actions: &[EnterInit],
                ..row("Shutdown: Initialize", Start::Fault, ms(5), Shutdown)
            },
            fault("ignores adverts", advert(0, 100, LOWER)),
            fault("ignores timers", Timer),
            fault("ignores Startup", Startup),
            fault("ignores repeated down", InterfaceDown),
        ]);
    }

    #[test]
    fn startup_with_interface_down_enters_fault() {
        let mut i = Instance::new(params()).unwrap();
        assert_eq!(i.handle(ms(0), InterfaceDown), []);
        assert_eq!(i.handle(ms(1), Startup), [EnterFault]);
        assert_eq!(i.handle(ms(2), InterfaceUp), [BecomeBackup]);
    }

    #[test]
    fn unable_master_resigns_into_fault_and_asks_for_checks() {
        let (mut i, t) = reach(params(), Start::Master);
        // Adding the VIPs (or switching drlb) failed: resign, Fault.
        assert_eq!(
            i.handle(t, Unable),
            [SendAdvert { priority: 0 }, EnterFault]
        );
        assert_eq!(i.state(), State::Fault);
        assert!(i.unable());
        // Adverts and early timers change nothing; the check is due in 1 s.
        assert_eq!(i.next_deadline(), Some(t + ms(1000)));
        assert_eq!(i.next_retry(), Some(t + ms(1000)));
        assert_eq!(i.handle(t + ms(10), advert(0, 100, LOWER)), []);
        assert_eq!(i.handle(t + ms(999), Timer), []);
        // Each check that fails doubles the wait, up to RETRY_MAX.
        let mut at = t + ms(1000);
        for wait in [2, 4, 8, 16, 30, 30] {
            assert_eq!(i.handle(at, Timer), [Retry], "at {at:?}");
            assert_eq!(i.next_deadline(), None, "nothing runs during a check");
            assert_eq!(i.handle(at, Unable), []);
            assert_eq!(i.state(), State::Fault);
            assert_eq!(i.next_deadline(), Some(at + ms(wait * 1000)));
            at += ms(wait * 1000);
        }
        // A check that passes starts it again, as a backup.
        assert_eq!(i.handle(at, Timer), [Retry]);
        assert_eq!(i.handle(at, Able), [BecomeBackup]);
        assert!(!i.unable());
        assert_eq!(i.next_deadline(), Some(at + MDI_100));
    }

    #[test]
    fn unable_in_each_state() {
        let owner = Params {
            priority: 255,
            ..params()
        };
        run(vec![
            Row {
                actions: &[EnterFault],
                state: State::Fault,
                deadline: Some(ms(500) + RETRY_MIN),
                ..row("backup: Fault", Start::Backup, ms(500), Unable)
            },
            Row {
                deadline: Some(ms(5) + RETRY_MIN),
                state: State::Fault,
                ..row(
                    "Fault for its interface: a check is scheduled",
                    Start::Fault,
                    ms(5),
                    Unable,
                )
            },
            row("Initialize: nothing yet", Start::Init, ms(5), Unable),
        ]);
        // The owner resigns too, and is master again once able.
        let mut o = Instance::new(owner).unwrap();
        assert_eq!(
            o.handle(ms(0), Startup),
            [SendAdvert { priority: 255 }, BecomeMaster]
        );
        assert_eq!(
            o.handle(ms(5), Unable),
            [SendAdvert { priority: 0 }, EnterFault]
        );
        assert_eq!(o.handle(ms(1005), Timer), [Retry]);
        // The owner's check passes: master again at once.
        assert_eq!(
            o.handle(ms(1005), Able),
            [SendAdvert { priority: 255 }, BecomeMaster]
        );
    }

    #[test]
    fn unable_before_startup_starts_in_fault() {
        let mut i = Instance::new(params()).unwrap();
        assert_eq!(i.handle(ms(0), Unable), []);
        assert_eq!(i.next_deadline(), None);
        assert_eq!(i.handle(ms(1), Startup), [EnterFault]);
        assert_eq!(i.next_deadline(), Some(ms(1) + RETRY_MIN));
    }

    #[test]
    fn fault_ends_when_both_interface_and_ability_are_back() {
        let (mut i, t) = reach(params(), Start::Master);
        i.handle(t, Unable);
        // Its interface goes down too: still Fault, the checks go on.
        assert_eq!(i.handle(t + ms(100), InterfaceDown), []);
        assert_eq!(i.handle(t + ms(200), InterfaceUp), [], "still unable");
        assert_eq!(i.state(), State::Fault);
        i.handle(t + ms(300), InterfaceDown);
        assert_eq!(i.handle(t + ms(1000), Timer), [Retry]);
        assert_eq!(i.handle(t + ms(1000), Able), [], "interface still down");
        assert_eq!((i.state(), i.next_deadline()), (State::Fault, None));
        assert_eq!(i.handle(t + ms(1100), InterfaceUp), [BecomeBackup]);
    }

    #[test]
    fn shutdown_while_unable() {
        let (mut i, t) = reach(params(), Start::Master);
        i.handle(t, Unable);
        assert_eq!(
            i.handle(t + ms(10), Shutdown),
            [EnterInit],
            "resigned already"
        );
        assert_eq!(i.next_deadline(), None);
        // Started again, it is still unable: Fault, with its next check.
        assert_eq!(i.handle(t + ms(20), Startup), [EnterFault]);
        assert!(i.next_retry().is_some());
    }

    #[test]
    fn a_master_that_held_retries_soon_after_its_next_failure() {
        let (mut i, t) = reach(params(), Start::Master);
        i.handle(t, Unable); // next check in 1 s, then 2 s
        i.handle(t + ms(1000), Timer);
        i.handle(t + ms(1000), Unable); // next in 2 s, then 4 s
        i.handle(t + ms(3000), Timer);
        i.handle(t + ms(3000), Able);
        let down = i.next_deadline().unwrap();
        assert_eq!(
            i.handle(down, Timer),
            [SendAdvert { priority: 100 }, BecomeMaster]
        );
        // It fails again at once: the wait goes on growing (4 s).
        assert_eq!(
            i.handle(down, Unable),
            [SendAdvert { priority: 0 }, EnterFault]
        );
        assert_eq!(i.next_retry(), Some(down + ms(4000)));
        i.handle(down + ms(4000), Timer);
        i.handle(down + ms(4000), Able);
        let down = i.next_deadline().unwrap();
        i.handle(down, Timer);
        // This time it holds for an advert interval: back to 1 s.
        assert_eq!(
            i.handle(down + ms(1000), Timer),
            [SendAdvert { priority: 100 }]
        );
        i.handle(down + ms(1500), Unable);
        assert_eq!(i.next_retry(), Some(down + ms(2500)));
    }

    #[test]
    fn the_backup_takes_over_from_a_master_that_cannot_add_its_vips() {
        // Router 1 (100) is master; router 0 (200) starts, preempts it,
        // fails its master's job (its VIPs), and every check after that.
        let mut lan = Lan::new(&[(200, LOWER), (100, HIGHER)]);
        lan.event(1, Startup);
        lan.run_until(ms(10_000));
        assert_eq!(lan.states(), [State::Initialize, State::Master]);
        lan.event(0, Startup);
        let mut became = [0usize; 2];
        let end = lan.now + ms(120_000);
        while let Some(at) = lan
            .routers
            .iter()
            .filter_map(Instance::next_deadline)
            .min()
            .filter(|&t| t <= end)
        {
            lan.now = at;
            for (r, count) in became.iter_mut().enumerate() {
                if lan.routers[r].next_deadline() != Some(at) {
                    continue;
                }
                let mut out = lan.routers[r].handle(at, Timer);
                if r == 0 && out.iter().any(|a| matches!(a, BecomeMaster | Retry)) {
                    out.extend(lan.routers[0].handle(at, Unable));
                }
                *count += out.iter().filter(|a| **a == BecomeMaster).count();
                lan.deliver(r, out);
            }
        }
        assert_eq!(lan.states(), [State::Fault, State::Master]);
        assert_eq!(
            became,
            [1, 1],
            "router 0 tried once; router 1 took over once, and kept the role"
        );
    }

    fn down_interval(version: Version, priority: u8, advert_interval_cs: u16) -> Duration {
        let p = Params {
            version,
            priority,
            advert_interval_cs,
            ..params()
        };
        let i = Instance::new(p).unwrap();
        i.master_down_interval()
    }

    #[test]
    fn timer_formulas() {
        // keepalived(8): 1 s adverts, priority 128 -> 3.5 s, both versions.
        assert_eq!(down_interval(Version::V3, 128, 100), ms(3500));
        assert_eq!(down_interval(Version::V2, 128, 100), ms(3500));
        // 100 ms adverts scale the v3 skew.
        assert_eq!(down_interval(Version::V3, 128, 10), ms(350));
        assert_eq!(
            down_interval(Version::V3, 100, 10),
            us(300_000 + 60_937) + Duration::from_nanos(500)
        );
        // The v2 skew does not scale with the interval.
        assert_eq!(down_interval(Version::V2, 100, 300), ms(9000) + us(609_375));
        assert_eq!(
            down_interval(Version::V3, 100, 300),
            ms(9000) + us(1_828_125)
        );
        // Extremes of priority.
        assert_eq!(
            down_interval(Version::V3, 255, 100),
            ms(3000) + us(3_906) + Duration::from_nanos(250)
        );
        assert_eq!(
            down_interval(Version::V3, 1, 100),
            ms(3000) + us(996_093) + Duration::from_nanos(750)
        );
        let i = Instance::new(Params {
            priority: 128,
            ..params()
        })
        .unwrap();
        assert_eq!(
            (i.skew_time(), i.advertisement_interval()),
            (ms(500), ms(1000))
        );
    }

    #[test]
    fn v3_backup_uses_learned_interval() {
        let (mut i, _) = reach(params(), Start::Backup);
        i.handle(ms(100), advert(200, 25, LOWER));
        assert_eq!(i.master_adver_interval(), ms(250));
        assert_eq!(
            i.master_down_interval(),
            ms(750) + us(152_343) + Duration::from_nanos(750)
        );
        // A zero interval is never learned as zero.
        i.handle(ms(200), advert(200, 0, LOWER));
        assert_eq!(i.master_adver_interval(), ms(10));
        // Startup again starts from our own interval.
        i.handle(ms(300), Shutdown);
        i.handle(ms(400), Startup);
        assert_eq!(i.master_adver_interval(), ms(1000));
    }

    #[test]
    fn invalid_params() {
        assert_eq!(
            Instance::new(Params {
                priority: 0,
                ..params()
            })
            .unwrap_err(),
            ParamsError::ZeroPriority
        );
        let zero = Params {
            advert_interval_cs: 0,
            ..params()
        };
        assert_eq!(Instance::new(zero).unwrap_err(), ParamsError::ZeroInterval);
    }

    #[test]
    fn preempt_delay_holds_off_preemption() {
        let p = Params {
            preempt_delay: ms(5000),
            ..params()
        };
        let (mut i, _) = reach(p, Start::Backup);
        // A lower-priority master is accepted until the delay passes ...
        for t in (1000..6000).step_by(1000) {
            assert_eq!(i.handle(ms(t), advert(50, 100, LOWER)), []);
            assert_eq!(i.next_deadline(), Some(ms(t) + MDI_100), "t={t}");
        }
        // ... then its adverts are discarded and the timer runs out.
        assert_eq!(i.handle(ms(6000), advert(50, 100, LOWER)), []);
        assert_eq!(i.next_deadline(), Some(ms(5000) + MDI_100));
        let actions = i.handle(ms(5000) + MDI_100, Timer);
        assert_eq!(actions, [SendAdvert { priority: 100 }, BecomeMaster]);
    }

    #[test]
    fn preempt_delay_restarts_after_a_higher_master() {
        let p = Params {
            preempt_delay: ms(2000),
            ..params()
        };
        let (mut i, _) = reach(p, Start::Backup);
        i.handle(ms(1000), advert(50, 100, LOWER)); // delay until 3000
        i.handle(ms(2000), advert(150, 100, HIGHER)); // a real master: forget it
        i.handle(ms(2500), advert(50, 100, LOWER)); // delay until 4500
        i.handle(ms(4000), advert(50, 100, LOWER));
        assert_eq!(i.next_deadline(), Some(ms(4000) + MDI_100));
        i.handle(ms(4500), advert(50, 100, LOWER));
        assert_eq!(i.next_deadline(), Some(ms(4000) + MDI_100));
    }

    #[test]
    fn preempt_delay_does_not_delay_a_priority_zero_takeover() {
        let p = Params {
            preempt_delay: ms(60_000),
            ..params()
        };
        let (mut i, _) = reach(p, Start::Backup);
        i.handle(ms(1000), advert(0, 100, LOWER));
        assert_eq!(i.next_deadline(), Some(ms(1000) + us(609_375)));
    }

    #[test]
    fn held_preemption_accepts_a_lower_master_until_released() {
        let (mut i, _) = reach(params(), Start::Backup);
        i.hold_preemption(true);
        assert!(i.preemption_held());
        for t in (1000..6000).step_by(1000) {
            assert_eq!(i.handle(ms(t), advert(50, 100, LOWER)), []);
            assert_eq!(i.next_deadline(), Some(ms(t) + MDI_100), "t={t}");
            assert_eq!(i.state(), State::Backup);
        }
        // Released: the next advert is discarded, and the timer preempts.
        i.hold_preemption(false);
        assert_eq!(i.handle(ms(6000), advert(50, 100, LOWER)), []);
        assert_eq!(i.next_deadline(), Some(ms(5000) + MDI_100));
        let actions = i.handle(ms(5000) + MDI_100, Timer);
        assert_eq!(actions, [SendAdvert { priority: 100 }, BecomeMaster]);
    }

    #[test]
    fn held_preemption_still_takes_over_from_a_master_that_goes_away() {
        let (mut i, _) = reach(params(), Start::Backup);
        i.hold_preemption(true);
        i.handle(ms(1000), advert(50, 100, LOWER));
        // No advert since: the master down timer makes it master.
        let actions = i.handle(ms(1000) + MDI_100, Timer);
        assert_eq!(actions, [SendAdvert { priority: 100 }, BecomeMaster]);
        // A resigning master: at once (skew time), held or not.
        let (mut i, _) = reach(params(), Start::Backup);
        i.hold_preemption(true);
        i.handle(ms(1000), advert(0, 100, LOWER));
        assert_eq!(i.next_deadline(), Some(ms(1000) + us(609_375)));
    }

    /// Routers on one segment; adverts are delivered to all others at once.
    struct Lan {
        routers: Vec<Instance>,
        now: Duration,
    }

    impl Lan {
        fn new(members: &[(u8, IpAddr)]) -> Self {
            let routers = members
                .iter()
                .map(|&(priority, primary_addr)| {
                    Instance::new(Params {
                        priority,
                        primary_addr,
                        ..params()
                    })
                    .unwrap()
                })
                .collect();
            Lan {
                routers,
                now: Duration::ZERO,
            }
        }

        fn deliver(&mut self, from: usize, actions: Vec<Action>) {
            let src_addr = self.routers[from].params().primary_addr;
            for action in actions {
                if let SendAdvert { priority } = action {
                    for to in (0..self.routers.len()).filter(|&to| to != from) {
                        let out =
                            self.routers[to].handle(self.now, advert(priority, 100, src_addr));
                        self.deliver(to, out);
                    }
                }
            }
        }

        fn event(&mut self, who: usize, event: Event) {
            let out = self.routers[who].handle(self.now, event);
            self.deliver(who, out);
        }

        /// Run timers up to `until`; timers due at the same instant all
        /// fire before any advert is delivered.
        fn run_until(&mut self, until: Duration) {
            while let Some(at) = self
                .routers
                .iter()
                .filter_map(Instance::next_deadline)
                .min()
            {
                if at > until {
                    break;
                }
                self.now = at;
                let due: Vec<usize> = (0..self.routers.len())
                    .filter(|&i| self.routers[i].next_deadline() == Some(at))
                    .collect();
                let outputs: Vec<_> = due
                    .iter()
                    .map(|&i| (i, self.routers[i].handle(at, Timer)))
                    .collect();
                for (i, out) in outputs {
                    self.deliver(i, out);
                }
            }
            self.now = until;
        }

        fn states(&self) -> Vec<State> {
            self.routers.iter().map(Instance::state).collect()
        }
    }

    #[test]
    fn two_routers_elect_and_fail_over() {
        use State::{Backup as B, Master as M};
        let mut lan = Lan::new(&[(200, LOWER), (100, HIGHER)]);
        lan.event(0, Startup);
        lan.event(1, Startup);
        lan.run_until(ms(10_000));
        assert_eq!(lan.states(), [M, B]);
        // The master shuts down: the backup takes over after Skew_Time.
        lan.event(0, Shutdown);
        let resigned = lan.now;
        lan.run_until(resigned + us(609_374));
        assert_eq!(lan.states(), [State::Initialize, B]);
        lan.run_until(resigned + us(609_375));
        assert_eq!(lan.states(), [State::Initialize, M]);
        // The higher-priority router comes back and preempts.
        lan.event(0, Startup);
        lan.run_until(lan.now + ms(10_000));
        assert_eq!(lan.states(), [M, B]);
    }

    #[test]
    fn equal_priority_tie_goes_to_higher_address() {
        let mut lan = Lan::new(&[(100, LOWER), (100, HIGHER)]);
        lan.event(0, Startup);
        lan.event(1, Startup);
        // Both time out together, both advertise; the lower address yields.
        lan.run_until(ms(20_000));
        assert_eq!(lan.states(), [State::Backup, State::Master]);
    }

    #[test]
    fn a_priority_change_in_place() {
        let mut m = Instance::new(params()).unwrap();
        m.handle(ms(0), Startup);
        m.handle(ms(4000), Timer);
        assert_eq!(m.state(), State::Master);
        assert_eq!(
            m.set_priority(ms(4100), 50),
            [SendAdvert { priority: 50 }],
            "at once"
        );
        assert_eq!(m.set_priority(ms(4100), 50), [], "no change");
        assert_eq!(m.next_deadline(), Some(ms(5100)));
        // A backup at 100 now outranks it: its adverts make it step down.
        let advert = Advert {
            priority: 100,
            max_adver_int_cs: 100,
            src_addr: LOWER,
        };
        assert_eq!(m.handle(ms(4200), advert), [BecomeBackup]);

        let mut b = Instance::new(params()).unwrap();
        b.handle(ms(0), Startup);
        assert!(b.set_priority(ms(10), 200).is_empty());
        // Now above the master's 150: with preempt, its adverts are ignored
        // and the backup takes over when the timer runs out.
        let advert = Advert {
            priority: 150,
            max_adver_int_cs: 100,
            src_addr: HIGHER,
        };
        b.handle(ms(100), advert);
        assert_eq!(b.params().priority, 200);
        let down = b.next_deadline().unwrap();
        assert_eq!(
            b.handle(down, Timer),
            [SendAdvert { priority: 200 }, BecomeMaster]
        );
    }
}
