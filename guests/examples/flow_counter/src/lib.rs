//! `flow_counter`: counts packets and bytes per flow, keyed by (source,
//! destination, protocol), in a hash map shared with userspace, and accepts
//! every packet.
//!
//! Maps (`declare_maps!` below):
//! - map 0, a hash map of up to 4096 flows: the key is 36 bytes, the
//!   source and destination addresses as 16 bytes each (an IPv4 address as
//!   `::ffff:a.b.c.d`), the protocol, and 3 zero bytes; the value is
//!   `[packets, bytes]` (bytes as the hook sees them: the IP datagram).
//!   Each packet is one `add`, which the host applies under the map's lock,
//!   so CPUs never lose a count.
//! - map 1, 2 entries: `[not_ip, untracked]`: packets that are not IP, and
//!   packets of new flows that did not fit in a full map.
//!
//! Look a flow up with `kwasm map lookup flow_counter 0
//! ::ffff:127.0.0.1,::ffff:127.0.0.1,u8:17,hex:000000`, or list them with
//! `kwasm map dump flow_counter 0`.
#![no_std]

use kwasm_guest::Verdict;
use kwasm_guest::host;
use kwasm_guest::maps::{Array, HashMap};
use kwasm_guest::net::{IpAddr, IpHeader};

/// Bytes of a flow key.
const KEY: usize = 36;

kwasm_guest::declare_maps! {
    /// `[packets, bytes]` per (source, destination, protocol).
    static FLOWS: HashMap<[u8; KEY], [u64; 2], 4096>;
    /// `[not_ip, untracked]`.
    static OTHER: Array<2>;
}

/// An address as 16 bytes: IPv6 as is, IPv4 mapped (`::ffff:a.b.c.d`).
fn addr16(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(b) => b,
        IpAddr::V4(b) => {
            let mut m = [0u8; 16];
            m[10] = 0xff;
            m[11] = 0xff;
            m[12..].copy_from_slice(&b);
            m
        }
    }
}

fn filter(len: u32) -> Verdict {
    // The IP header, with room for IPv6 extension headers.
    let mut buf = host::PacketBuf::<128>::new();
    let Some(ip) = IpHeader::parse(buf.load()) else {
        OTHER.add(0, 1);
        return Verdict::Accept;
    };
    let mut key = [0u8; KEY];
    key[..16].copy_from_slice(&addr16(ip.src()));
    key[16..32].copy_from_slice(&addr16(ip.dst()));
    key[32] = ip.protocol();
    if FLOWS.add(&key, &[1, u64::from(len)]).is_err() {
        OTHER.add(1, 1);
    }
    Verdict::Accept
}

kwasm_guest::filter!(filter);
