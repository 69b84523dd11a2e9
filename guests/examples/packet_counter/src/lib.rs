//! `packet_counter`: counts packets and bytes per IP protocol, accepts every
//! packet.
//!
//! Maps (see `kwasm stats`):
//! - map 0, 256 entries: packets per IP protocol number (IPv6: the protocol
//!   after the extension headers), e.g. entry 6 = TCP, 17 = UDP;
//! - map 1, 256 entries: bytes (IP header included) per IP protocol number;
//! - map 2, 3 entries: packets per family: `[ipv4, ipv6, not ip]`.
#![no_std]

use kwasm_guest::Verdict;
use kwasm_guest::host::{self, Map};
use kwasm_guest::net::IpHeader;

kwasm_guest::maps!(256, 256, 3);

/// Packets per IP protocol.
const PACKETS: Map = Map::new(0);
/// Bytes per IP protocol.
const BYTES: Map = Map::new(1);
/// Packets per family: `[ipv4, ipv6, not ip]`.
const FAMILIES: Map = Map::new(2);

const FAMILY_V4: u32 = 0;
const FAMILY_V6: u32 = 1;
const FAMILY_OTHER: u32 = 2;

fn filter(len: u32) -> Verdict {
    // Enough for an IPv6 header and a few extension headers.
    let mut buf = host::PacketBuf::<128>::new();
    let pkt = buf.load();
    match IpHeader::parse(pkt) {
        Some(ip) => {
            let proto = u32::from(ip.protocol());
            FAMILIES.incr(if ip.version() == 4 {
                FAMILY_V4
            } else {
                FAMILY_V6
            });
            PACKETS.incr(proto);
            BYTES.add(proto, u64::from(len));
        }
        None => {
            FAMILIES.incr(FAMILY_OTHER);
        }
    }
    Verdict::Accept
}

kwasm_guest::filter!(filter);
