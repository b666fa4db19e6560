//! Real-time scheduling and locked memory for the VRRP path, so that a
//! busy host does not delay adverts into false failovers (`realtime`,
//! `realtime_priority` in the configuration).
//!
//! The whole daemon is one thread: `SCHED_RR` at the configured priority
//! with `SCHED_RESET_ON_FORK`, so that notify and check scripts start at
//! normal priority, and `mlockall(MCL_CURRENT | MCL_FUTURE)`. Either may
//! not be permitted (no `CAP_SYS_NICE` and `RLIMIT_RTPRIO` below the
//! priority; no `CAP_IPC_LOCK` and a finite `RLIMIT_MEMLOCK`): then a
//! warning, and the daemon goes on without it.

use log::{info, warn};
use std::io;

/// `CAP_IPC_LOCK`'s bit in `CapEff`.
const CAP_IPC_LOCK: u32 = 14;

/// Whether to lock all memory, present and future. With a finite
/// `RLIMIT_MEMLOCK` and no `CAP_IPC_LOCK`, `MCL_FUTURE` would make every
/// allocation past the limit fail, so the memory is not locked.
pub fn should_lock(memlock_limit: Option<u64>, cap_ipc_lock: bool) -> bool {
    cap_ipc_lock || memlock_limit.is_none()
}

/// Whether `/proc/self/status` text shows `cap` in `CapEff`.
pub fn has_cap(status: &str, cap: u32) -> bool {
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .is_some_and(|bits| bits & (1 << cap) != 0)
}

/// `RLIMIT_MEMLOCK`'s soft limit in bytes; `None` if unlimited.
fn memlock_limit() -> io::Result<Option<u64>> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((r.rlim_cur != libc::RLIM_INFINITY).then_some(r.rlim_cur))
}

/// Puts the calling thread (the daemon's only one) at `SCHED_RR`
/// `priority`, with `SCHED_RESET_ON_FORK`.
fn set_rr(priority: u8) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: a plain system call on this thread with a valid sched_param.
    let r =
        unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn lock_all() -> io::Result<()> {
    // SAFETY: a plain system call.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What [`apply`] achieved, as status shows it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Running at `SCHED_RR`.
    pub scheduling: bool,
    /// Memory locked.
    pub memory_locked: bool,
}

/// Applies `realtime` (`Some(priority)`) or not (`None`); what could not be
/// done is a warning, never an error.
pub fn apply(realtime: Option<u8>) -> Applied {
    let Some(priority) = realtime else {
        return Applied::default();
    };
    let scheduling = match set_rr(priority) {
        Ok(()) => true,
        Err(e) => {
            warn!(
                "realtime: cannot run at SCHED_RR priority {priority} ({e}); going on at normal \
                 priority, where a busy host can delay adverts (grant CAP_SYS_NICE, or \
                 LimitRTPRIO={priority} in the unit, or set realtime = false)"
            );
            false
        }
    };
    let cap = std::fs::read_to_string("/proc/self/status")
        .map(|s| has_cap(&s, CAP_IPC_LOCK))
        .unwrap_or(false);
    let memory_locked = match memlock_limit() {
        Ok(limit) if should_lock(limit, cap) => match lock_all() {
            Ok(()) => true,
            Err(e) => {
                warn!("realtime: cannot lock memory ({e}); going on unlocked");
                false
            }
        },
        Ok(limit) => {
            warn!(
                "realtime: not locking memory: RLIMIT_MEMLOCK is {} bytes and there is no \
                 CAP_IPC_LOCK (LimitMEMLOCK=infinity in the unit allows it)",
                limit.unwrap_or(0)
            );
            false
        }
        Err(e) => {
            warn!("realtime: not locking memory: RLIMIT_MEMLOCK: {e}");
            false
        }
    };
    if scheduling || memory_locked {
        info!(
            "realtime: {}{}",
            if scheduling {
                format!("SCHED_RR priority {priority}")
            } else {
                "normal scheduling".into()
            },
            if memory_locked {
                ", memory locked"
            } else {
                ", memory not locked"
            }
        );
    }
    Applied {
        scheduling,
        memory_locked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_locked_only_where_allocations_cannot_fail_for_it() {
        assert!(should_lock(None, false));
        assert!(should_lock(None, true));
        assert!(should_lock(Some(8 << 20), true));
        assert!(!should_lock(Some(8 << 20), false));
    }

    #[test]
    fn capabilities_are_read_from_capeff() {
        let status = "Name:\tvrrpd\nCapInh:\t0000000000000000\nCapPrm:\t0000000000004000\n\
                      CapEff:\t0000000000003000\n";
        assert!(!has_cap(status, CAP_IPC_LOCK));
        assert!(has_cap(status, 12)); // CAP_NET_ADMIN
        let root = "CapEff:\t000001ffffffffff\n";
        assert!(has_cap(root, CAP_IPC_LOCK));
        assert!(!has_cap("", CAP_IPC_LOCK));
    }

    #[test]
    fn off_does_nothing() {
        assert_eq!(apply(None), Applied::default());
    }
}
