//! The TCP connection-tracking state machine of a direct-routing director,
//! and connection timeouts.
//!
//! In direct routing the director only sees the client-to-server half of a
//! connection: replies go straight from the real server to the client. So
//! this is IPVS's INPUT-ONLY table (`tcp_states[]` in Linux
//! `net/netfilter/ipvs/ip_vs_proto_tcp.c`, the rows IPVS uses for connections
//! flagged `IP_VS_CONN_F_NOOUTPUT`), reproduced entry for entry, with the same
//! event priority (`rst` > `syn` > `fin` > `ack`) as IPVS's `tcp_state_idx()`.
//!
//! Timeouts default to IPVS's `tcp_timeouts[]` and UDP's 5 minutes.

/// A TCP connection's state. The numbering is IPVS's `IP_VS_TCP_S_*`, so
/// the values can go on the wire ([`TcpState::from_u8`] decodes them).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    /// No packet seen yet (`IP_VS_TCP_S_NONE`).
    None = 0,
    /// `IP_VS_TCP_S_ESTABLISHED`.
    Established = 1,
    /// `IP_VS_TCP_S_SYN_SENT`.
    SynSent = 2,
    /// `IP_VS_TCP_S_SYN_RECV`: the client's SYN was forwarded.
    SynRecv = 3,
    /// `IP_VS_TCP_S_FIN_WAIT`: the client sent FIN.
    FinWait = 4,
    /// `IP_VS_TCP_S_TIME_WAIT`.
    TimeWait = 5,
    /// `IP_VS_TCP_S_CLOSE`: reset, or FIN before any handshake.
    Close = 6,
    /// `IP_VS_TCP_S_CLOSE_WAIT`.
    CloseWait = 7,
    /// `IP_VS_TCP_S_LAST_ACK`.
    LastAck = 8,
    /// `IP_VS_TCP_S_LISTEN`.
    Listen = 9,
    /// `IP_VS_TCP_S_SYNACK`.
    SynAck = 10,
}

/// The number of TCP states (`IP_VS_TCP_S_LAST`).
pub const STATE_COUNT: usize = 11;

use TcpState::{
    Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA, Listen as LI,
    None as NO, SynAck as SA, SynRecv as SR, SynSent as SS, TimeWait as TW,
};

impl TcpState {
    /// Every state, in numeric order.
    pub const ALL: [TcpState; STATE_COUNT] = [NO, ES, SS, SR, FW, TW, CL, CW, LA, LI, SA];

    /// Decodes an `IP_VS_TCP_S_*` number.
    pub fn from_u8(v: u8) -> Option<Self> {
        Self::ALL.get(usize::from(v)).copied()
    }

    /// The state's number (`IP_VS_TCP_S_*`).
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The state's name as `ipvsadm -lc` prints it.
    #[cfg(not(drlb_kmod))] // for the tools: the module prints no names
    pub fn name(self) -> &'static str {
        match self {
            NO => "NONE",
            ES => "ESTABLISHED",
            SS => "SYN_SENT",
            SR => "SYN_RECV",
            FW => "FIN_WAIT",
            TW => "TIME_WAIT",
            CL => "CLOSE",
            CW => "CLOSE_WAIT",
            LA => "LAST_ACK",
            LI => "LISTEN",
            SA => "SYNACK",
        }
    }
}

/// The TCP header flags that drive the state machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    /// SYN.
    pub syn: bool,
    /// FIN.
    pub fin: bool,
    /// ACK.
    pub ack: bool,
    /// RST.
    pub rst: bool,
}

impl TcpFlags {
    /// Decodes the flags byte of a TCP header (byte 13: CWR ECE URG ACK PSH
    /// RST SYN FIN, FIN in bit 0).
    pub fn from_header_byte(b: u8) -> Self {
        TcpFlags {
            fin: b & 0x01 != 0,
            syn: b & 0x02 != 0,
            rst: b & 0x04 != 0,
            ack: b & 0x10 != 0,
        }
    }
}

/// IPVS's INPUT-ONLY rows, indexed `[event][state]`, event order syn, fin,
/// ack, rst; copied from `tcp_states[]` in ip_vs_proto_tcp.c (Linux 6.12).
#[rustfmt::skip]
const INPUT_ONLY: [[TcpState; STATE_COUNT]; 4] = [
    //    sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

/// The state after a client-to-server segment with `flags` arrives in
/// `state`, as IPVS computes it for a connection without output packets.
///
/// As in IPVS's `set_tcp_state()`, a segment with none of SYN, FIN, ACK and
/// RST set moves the connection to [`TcpState::Close`].
pub fn next(state: TcpState, flags: TcpFlags) -> TcpState {
    // tcp_state_idx(): rst > syn > fin > ack.
    let row = if flags.rst {
        3
    } else if flags.syn {
        0
    } else if flags.fin {
        1
    } else if flags.ack {
        2
    } else {
        return CL;
    };
    INPUT_ONLY
        .get(row)
        .and_then(|r| r.get(usize::from(state.as_u8())))
        .copied()
        .unwrap_or(CL)
}

/// Whether a segment with `flags` opens a new connection over an entry in
/// `state`, rather than continuing the entry's: a bare SYN (no ACK, no RST)
/// after the old connection was closed or reset on the client's side
/// (FIN_WAIT, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK). The client reused its
/// port, so the director schedules the new connection afresh and counts it,
/// as IPVS does with `conn_reuse_mode` 2 ("when connections are in FIN_WAIT
/// state, as this is the last state seen by load balancer in Direct
/// Routing mode"); otherwise a busy client's reused ports would stay on
/// their old real servers, and a new real server would get no share of them.
///
/// A SYN in any other state (a retransmitted SYN, SYN_RECV, or one in an
/// established connection) stays on the entry's real server.
pub fn reopens(state: TcpState, flags: TcpFlags) -> bool {
    flags.syn && !flags.ack && !flags.rst && matches!(state, FW | TW | CL | CW | LA)
}

/// Whether a connection in `state` counts in its real server's active
/// connections (the rest count as inactive), for the `lc`/`wlc` overhead.
///
/// This is IPVS's `tcp_state_active_table[]` since Linux 4.7 ("ipvs: count
/// pre-established TCP states as active"): ESTABLISHED, SYN_SENT, SYN_RECV
/// and SYNACK are active. Older kernels counted ESTABLISHED only.
pub fn is_active(state: TcpState) -> bool {
    matches!(state, ES | SS | SR | SA)
}

/// Connection timeouts in seconds, per TCP state plus UDP. The defaults
/// ([`Timeouts::DEFAULT`]) are IPVS's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// NONE (IPVS: 2 s).
    pub none: u32,
    /// ESTABLISHED (IPVS: 900 s); `ipvsadm --set` calls it `tcp`.
    pub established: u32,
    /// SYN_SENT (IPVS: 120 s).
    pub syn_sent: u32,
    /// SYN_RECV (IPVS: 60 s).
    pub syn_recv: u32,
    /// FIN_WAIT (IPVS: 120 s); `ipvsadm --set` calls it `tcpfin`.
    pub fin_wait: u32,
    /// TIME_WAIT (IPVS: 120 s).
    pub time_wait: u32,
    /// CLOSE (IPVS: 10 s).
    pub close: u32,
    /// CLOSE_WAIT (IPVS: 60 s).
    pub close_wait: u32,
    /// LAST_ACK (IPVS: 30 s).
    pub last_ack: u32,
    /// LISTEN (IPVS: 120 s).
    pub listen: u32,
    /// SYNACK (IPVS: 120 s).
    pub synack: u32,
    /// Every UDP flow (IPVS: 300 s); `ipvsadm --set` calls it `udp`.
    pub udp: u32,
}

impl Timeouts {
    /// IPVS's defaults.
    pub const DEFAULT: Timeouts = Timeouts {
        none: 2,
        established: 15 * 60,
        syn_sent: 2 * 60,
        syn_recv: 60,
        fin_wait: 2 * 60,
        time_wait: 2 * 60,
        close: 10,
        close_wait: 60,
        last_ack: 30,
        listen: 2 * 60,
        synack: 120,
        udp: 5 * 60,
    };

    /// The timeout of a TCP connection in `state`, in seconds.
    pub fn timeout_for(&self, state: TcpState) -> u32 {
        match state {
            NO => self.none,
            ES => self.established,
            SS => self.syn_sent,
            SR => self.syn_recv,
            FW => self.fin_wait,
            TW => self.time_wait,
            CL => self.close,
            CW => self.close_wait,
            LA => self.last_ack,
            LI => self.listen,
            SA => self.synack,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const SYN: TcpFlags = TcpFlags {
        syn: true,
        fin: false,
        ack: false,
        rst: false,
    };
    const FIN: TcpFlags = TcpFlags {
        syn: false,
        fin: true,
        ack: false,
        rst: false,
    };
    const ACK: TcpFlags = TcpFlags {
        syn: false,
        fin: false,
        ack: true,
        rst: false,
    };
    const RST: TcpFlags = TcpFlags {
        syn: false,
        fin: false,
        ack: false,
        rst: true,
    };

    /// The INPUT-ONLY table of ip_vs_proto_tcp.c, transcribed independently
    /// of `INPUT_ONLY` from the C source text.
    const C_TABLE: &str = "
/*        sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA */
/*syn*/ {{sSR, sES, sES, sSR, sSR, sSR, sSR, sSR, sSR, sSR, sSR }},
/*fin*/ {{sCL, sFW, sSS, sTW, sFW, sTW, sCL, sCW, sLA, sLI, sTW }},
/*ack*/ {{sES, sES, sSS, sES, sFW, sTW, sCL, sCW, sCL, sLI, sES }},
/*rst*/ {{sCL, sCL, sCL, sSR, sCL, sCL, sCL, sCL, sLA, sLI, sCL }},
";

    fn parse(abbrev: &str) -> TcpState {
        let names = [
            "sNO", "sES", "sSS", "sSR", "sFW", "sTW", "sCL", "sCW", "sLA", "sLI", "sSA",
        ];
        let i = names.iter().position(|n| *n == abbrev).unwrap();
        TcpState::ALL[i]
    }

    #[test]
    fn whole_input_only_table() {
        let mut rows = 0;
        for line in C_TABLE
            .lines()
            .filter(|l| l.starts_with("/*") && l.contains("{{"))
        {
            let event = &line[2..5];
            let flags = match event {
                "syn" => SYN,
                "fin" => FIN,
                "ack" => ACK,
                "rst" => RST,
                _ => unreachable!(),
            };
            let cells: std::vec::Vec<TcpState> = line
                [line.find("{{").unwrap() + 2..line.find("}}").unwrap()]
                .split(',')
                .map(|s| parse(s.trim()))
                .collect();
            assert_eq!(cells.len(), STATE_COUNT);
            for (from, to) in TcpState::ALL.iter().zip(cells) {
                assert_eq!(next(*from, flags), to, "{} + {event}", from.name());
            }
            rows += 1;
        }
        assert_eq!(rows, 4);
    }

    #[test]
    fn event_priority_and_no_flags() {
        for s in TcpState::ALL {
            let all = |syn, fin, ack, rst| TcpFlags { syn, fin, ack, rst };
            // rst wins over everything, syn over fin/ack, fin over ack.
            assert_eq!(next(s, all(true, true, true, true)), next(s, RST));
            assert_eq!(next(s, all(true, true, true, false)), next(s, SYN));
            assert_eq!(next(s, all(false, true, true, false)), next(s, FIN));
            assert_eq!(next(s, TcpFlags::from_header_byte(0x12)), next(s, SYN)); // SYN+ACK
            assert_eq!(next(s, TcpFlags::from_header_byte(0x18)), next(s, ACK)); // PSH+ACK
            assert_eq!(next(s, TcpFlags::from_header_byte(0x11)), next(s, FIN)); // FIN+ACK
            assert_eq!(next(s, TcpFlags::from_header_byte(0x14)), next(s, RST)); // RST+ACK
                                                                                 // No flag: IPVS sets CLOSE.
            assert_eq!(next(s, TcpFlags::default()), TcpState::Close);
        }
    }

    #[test]
    fn a_normal_connection() {
        let f = TcpFlags::from_header_byte;
        let mut s = TcpState::None;
        s = next(s, f(0x02));
        assert_eq!(s, TcpState::SynRecv);
        s = next(s, f(0x10));
        assert_eq!(s, TcpState::Established);
        s = next(s, f(0x18));
        assert_eq!(s, TcpState::Established);
        s = next(s, f(0x11));
        assert_eq!(s, TcpState::FinWait);
        s = next(s, f(0x10));
        assert_eq!(s, TcpState::FinWait);
        assert_eq!(next(s, f(0x04)), TcpState::Close);
    }

    #[test]
    fn numbering_names_activity() {
        for (i, s) in TcpState::ALL.iter().enumerate() {
            assert_eq!(s.as_u8() as usize, i);
            assert_eq!(TcpState::from_u8(i as u8), Some(*s));
        }
        assert_eq!(TcpState::from_u8(11), None);
        assert_eq!(TcpState::from_u8(255), None);
        assert_eq!(TcpState::SynAck.name(), "SYNACK");
        let active: std::vec::Vec<_> = TcpState::ALL.iter().filter(|s| is_active(**s)).collect();
        assert_eq!(
            active,
            [
                &TcpState::Established,
                &TcpState::SynSent,
                &TcpState::SynRecv,
                &TcpState::SynAck
            ]
        );
    }

    #[test]
    fn timeout_defaults_are_ipvs() {
        let t = Timeouts::default();
        let expect = [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120];
        for (s, secs) in TcpState::ALL.iter().zip(expect) {
            assert_eq!(t.timeout_for(*s), secs, "{}", s.name());
        }
        assert_eq!(t.udp, 300);
    }

    #[test]
    fn a_bare_syn_reopens_only_a_closed_connection() {
        let f = TcpFlags::from_header_byte;
        for s in TcpState::ALL {
            let closed = matches!(s, FW | TW | CL | CW | LA);
            assert_eq!(reopens(s, SYN), closed, "{}", s.name());
            assert!(!reopens(s, f(0x12)), "SYN+ACK in {}", s.name());
            assert!(!reopens(s, f(0x06)), "SYN+RST in {}", s.name());
            assert!(!reopens(s, ACK) && !reopens(s, FIN) && !reopens(s, RST));
        }
        // The closing states are those a connection reaches after the
        // client's FIN or RST.
        let mut s = next(next(next(TcpState::None, SYN), ACK), FIN);
        assert!(reopens(s, SYN), "after FIN: {}", s.name());
        s = next(next(next(TcpState::None, SYN), ACK), RST);
        assert!(reopens(s, SYN), "after RST: {}", s.name());
        // A retransmitted SYN does not.
        assert!(!reopens(next(TcpState::None, SYN), SYN));
    }
}
