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
//! DNS over TCP is not inspected. The classification, the verdict and the
//! counting are the SDK's `dns::inspect`, shared with the bench twin
//! `guests/bench/dns_filter` (the same program without the logging).
#![no_std]

use kwasm_guest::dns::{self, Inspection, QType};
use kwasm_guest::host::{self, Map};
use kwasm_guest::{Verdict, log};

kwasm_guest::maps!(4, 256);

/// `[queries, blocked, malformed, other]` (`dns::counter`).
const COUNTERS: Map = Map::new(0);
/// Queries per query type.
const PER_QTYPE: Map = Map::new(1);

/// Queries for this name and the names below it are dropped.
const BLOCKED_DOMAIN: &str = "blocked.test";

fn filter(_len: u32) -> Verdict {
    // IP (up to 60 bytes, or 40 + IPv6 extension headers), UDP (8), DNS
    // header (12), a name of at most 255 bytes, type and class (4).
    let mut buf = host::PacketBuf::<512>::new();
    let pkt = buf.load();
    let seen = dns::inspect(pkt, BLOCKED_DOMAIN);
    seen.count(COUNTERS, PER_QTYPE);
    match seen {
        Inspection::NotDns => {}
        Inspection::Query {
            ip,
            question: q,
            blocked,
        } => log!(
            "dns: {} {} {} from {}",
            if blocked { "DROP" } else { "query" },
            q.name,
            QType(q.qtype),
            ip.src()
        ),
        Inspection::Malformed { ip, error } => {
            log!("dns: malformed query from {}: {}", ip.src(), error)
        }
    }
    seen.verdict()
}

kwasm_guest::filter!(filter);
