//! A pull's answer: the whole connection table to the director that asked,
//! from a thread of its own (with its own netlink and UDP sockets), so
//! that a large table never delays an advert.

use super::{net, relay, wire};
use anyhow::Result;
use drlb_tool::netlink::Client;
use log::info;
use std::net::SocketAddr;
use std::time::Duration;

/// A pull's answer: the table as RECORDS datagrams to `to`, paced, then
/// PULL_END with their count and our drlb's state. Its own netlink and
/// UDP sockets.
pub(super) fn answer_pull(
    enc: &relay::Encoder,
    iface: &str,
    to: SocketAddr,
    active: bool,
) -> Result<()> {
    let mut nl = Client::connect()?;
    let table = drlb_tool::sync::table(&mut nl)?;
    let n = drlb_core::sync_record::records(&table).count() as u32;
    let sock = net::answer_socket(iface, to)?;
    for (i, d) in enc.records(&table).iter().enumerate() {
        send_paced(&sock, d, to)?;
        if i % 32 == 31 {
            // (about 20 MB/s: the requester's socket buffer keeps up)
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    send_paced(
        &sock,
        &enc.datagram(wire::Body::PullEnd { records: n, active }),
        to,
    )?;
    info!("sync: sent {to} the connection table: {n} records");
    Ok(())
}

fn send_paced(sock: &std::net::UdpSocket, b: &[u8], to: SocketAddr) -> Result<()> {
    loop {
        match sock.send_to(b, to) {
            Ok(_) => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => return Err(e.into()),
        }
    }
}
