//! The drlb module's connection-sync commands, as the relay uses them:
//! behind [`Module`], so that the relay's edge runs in tests with a fake.

use crate::config::ServiceKey;
use anyhow::Result;
use drlb_tool::netlink::Client;
use drlb_tool::sync::{Counters, Written};
use std::net::SocketAddr;

/// The module, as the relay uses it.
pub trait Module {
    fn set_send(&mut self, on: bool) -> Result<()>;
    /// Queued records and whether more wait.
    fn read(&mut self) -> Result<(Vec<u8>, bool)>;
    fn write(&mut self, records: &[u8]) -> Result<Written>;
    fn counters(&mut self) -> Result<Counters>;
    /// The weight>0 real servers of `services` that are not resolved.
    fn unresolved(&mut self, services: &[ServiceKey]) -> Result<Vec<String>>;
    /// The module came back (a new family): reconnect.
    fn forget(&mut self) {}
}

/// The module over generic netlink, a socket of its own (reconnected
/// after any error).
#[derive(Default)]
pub struct NlModule {
    client: Option<Client>,
}

impl NlModule {
    fn with<T>(&mut self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let c = match self.client.as_mut() {
            Some(c) => c,
            None => self.client.insert(Client::connect()?),
        };
        let r = f(c);
        if r.is_err() {
            self.client = None;
        }
        r
    }
}

impl Module for NlModule {
    fn set_send(&mut self, on: bool) -> Result<()> {
        self.with(|c| drlb_tool::sync::set(c, on))
    }
    fn read(&mut self) -> Result<(Vec<u8>, bool)> {
        self.with(drlb_tool::sync::read)
    }
    fn write(&mut self, records: &[u8]) -> Result<Written> {
        self.with(|c| drlb_tool::sync::write(c, records))
    }
    fn counters(&mut self) -> Result<Counters> {
        self.with(drlb_tool::sync::get)
    }
    fn unresolved(&mut self, services: &[ServiceKey]) -> Result<Vec<String>> {
        let running = self.with(drlb_tool::list::read)?;
        let mut out = vec![];
        for s in running {
            let Ok(proto) = drlb_tool::addr::proto(s.protocol) else {
                continue;
            };
            let Ok(ip) = s.address.parse() else { continue };
            let key = ServiceKey {
                proto,
                addr: SocketAddr::new(ip, s.port),
            };
            if !services.contains(&key) {
                continue;
            }
            out.extend(
                s.reals
                    .iter()
                    .filter(|r| r.weight > 0 && !r.resolved)
                    .map(|r| format!("{} of {key}", r.address)),
            );
        }
        Ok(out)
    }
    fn forget(&mut self) {
        self.client = None;
    }
}
