//! `port_filter`: drops UDP datagrams to destination port 9999 (IPv4 and
//! IPv6, through IPv6 extension headers), accepts everything else.
//!
//! Map 0, 2 entries: `[accepted, dropped]`.
//!
//! Non-first fragments carry no UDP header and are accepted; dropping the
//! first fragment is enough to stop the datagram from being reassembled.
#![no_std]

use kwasm_guest::Verdict;
use kwasm_guest::host::{self, Map};
use kwasm_guest::net::{self, IpHeader, proto};

kwasm_guest::maps!(2);

/// `[accepted, dropped]`.
const COUNTERS: Map = Map::new(0);
const ACCEPTED: u32 = 0;
const DROPPED: u32 = 1;

/// The UDP destination port to drop.
const BLOCKED_PORT: u16 = 9999;

fn verdict(pkt: &[u8]) -> Verdict {
    let Some(ip) = IpHeader::parse(pkt) else {
        return Verdict::Accept;
    };
    if ip.protocol() != proto::UDP {
        return Verdict::Accept;
    }
    match net::ports(&ip) {
        Some((_, BLOCKED_PORT)) => Verdict::Drop,
        _ => Verdict::Accept,
    }
}

fn filter(_len: u32) -> Verdict {
    // IPv6 header, a few extension headers and the UDP ports.
    let mut buf = host::PacketBuf::<128>::new();
    let v = verdict(buf.load());
    COUNTERS.incr(if v == Verdict::Drop {
        DROPPED
    } else {
        ACCEPTED
    });
    v
}

kwasm_guest::filter!(filter);
