//! `dns_parser`: inspects DNS queries over UDP (destination port 53), logs the
//! queried name and type, counts queries, and drops queries for names under a
//! blocked domain (`blocked.test` and its subdomains). Everything else is
//! accepted.
//!
//! Maps:
//! - map 0, 4 entries: `[queries, blocked, malformed, other]` where
//!   `queries` counts parsed queries, `blocked` the dropped ones, `malformed`
//!   UDP/53 datagrams that are not a parseable query (accepted, except a
//!   compression pointer in the question, which no client sends and which
//!   could hide a name: dropped), `other` every other packet;
//! - map 1, 256 entries: queries per query type (entry 0 collects types
//!   above 255).
//!
//! DNS over TCP is not inspected.
#![no_std]

use kwasm_guest::dns::{self, QType};
use kwasm_guest::host::{self, Map};
use kwasm_guest::net::{IpHeader, UdpHeader, proto};
use kwasm_guest::{Verdict, log};

kwasm_guest::maps!(4, 256);

/// `[queries, blocked, malformed, other]`.
const COUNTERS: Map = Map::new(0);
const QUERIES: u32 = 0;
const BLOCKED: u32 = 1;
const MALFORMED: u32 = 2;
const OTHER: u32 = 3;
/// Queries per query type.
const PER_QTYPE: Map = Map::new(1);

/// Queries for this name and the names below it are dropped.
const BLOCKED_DOMAIN: &str = "blocked.test";

fn filter(_len: u32) -> Verdict {
    // IP (up to 60 bytes, or 40 + IPv6 extension headers), UDP (8), DNS
    // header (12), a name of at most 255 bytes, type and class (4).
    let mut buf = [0u8; 512];
    let pkt = host::load_packet(&mut buf);

    let Some(ip) = IpHeader::parse(pkt) else {
        COUNTERS.incr(OTHER);
        return Verdict::Accept;
    };
    let udp = match ip.transport() {
        Some(l4) if ip.protocol() == proto::UDP => UdpHeader::parse(l4),
        _ => None,
    };
    let Some(udp) = udp.filter(|u| u.dst_port() == dns::PORT) else {
        COUNTERS.incr(OTHER);
        return Verdict::Accept;
    };

    match dns::parse_query(udp.payload()) {
        Ok((_, q)) => {
            COUNTERS.incr(QUERIES);
            PER_QTYPE.incr(if q.qtype < 256 { u32::from(q.qtype) } else { 0 });
            let blocked = q.name.is_subdomain_of(BLOCKED_DOMAIN);
            log!(
                "dns: {} {} {} from {}",
                if blocked { "DROP" } else { "query" },
                q.name,
                QType(q.qtype),
                ip.src()
            );
            if blocked {
                COUNTERS.incr(BLOCKED);
                Verdict::Drop
            } else {
                Verdict::Accept
            }
        }
        Err(e) => {
            COUNTERS.incr(MALFORMED);
            log!("dns: malformed query from {}: {}", ip.src(), e);
            if e == dns::Error::Compressed {
                COUNTERS.incr(BLOCKED);
                Verdict::Drop
            } else {
                Verdict::Accept
            }
        }
    }
}

kwasm_guest::filter!(filter);
