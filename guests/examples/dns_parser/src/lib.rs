//! `dns_parser`: inspects DNS queries over UDP (destination port 53), logs the
//! queried name and type, counts queries in total, per type and per queried
//! name, drops queries for names under a blocked domain (`blocked.test` and
//! its subdomains) and streams each blocked query to userspace. Everything
//! else is accepted.
//!
//! Maps (`declare_maps!` below):
//! - map 0, 4 entries: `[queries, blocked, malformed, other]` where
//!   `queries` counts parsed queries, `blocked` the dropped ones, `malformed`
//!   UDP/53 datagrams that are not a parseable query (accepted, except a
//!   compression pointer in the question, which no client sends and which
//!   could hide a name: dropped), `other` every other packet;
//! - map 1, 256 entries: queries per query type (entry 0 collects types
//!   above 255);
//! - map 2, a hash map: queries per queried name, lowercased (its first 64
//!   bytes, zero-padded), up to 1024 names (`kwasm map dump dns_parser 2`);
//!   when it is full, new names are not counted there;
//! - map 3, a 64 KiB ring buffer: one record per blocked query, the text
//!   `NAME TYPE from ADDRESS` (`kwasm events dns_parser --follow`).
//!
//! DNS over TCP is not inspected. The classification, the verdict and the
//! counting in maps 0 and 1 are the SDK's `dns::inspect`, shared with the
//! bench twin `guests/bench/dns_filter` (the same program without the
//! logging, the per-name counts and the events).
#![no_std]

use core::fmt::{self, Write};
use kwasm_guest::dns::{self, Inspection, QType};
use kwasm_guest::host;
use kwasm_guest::log::LogBuf;
use kwasm_guest::maps::{Array, HashMap, RingBuf};
use kwasm_guest::{Verdict, log};

/// Bytes of a name's key in the per-name map.
const NAME_KEY: usize = 64;

kwasm_guest::declare_maps! {
    /// `[queries, blocked, malformed, other]` (`dns::counter`).
    static COUNTERS: Array<4>;
    /// Queries per query type.
    static PER_QTYPE: Array<256>;
    /// Queries per queried name.
    static PER_NAME: HashMap<[u8; NAME_KEY], u64, 1024>;
    /// Blocked queries, as text.
    static BLOCKED: RingBuf<65536>;
}

/// Queries for this name and the names below it are dropped.
const BLOCKED_DOMAIN: &str = "blocked.test";

/// A name as its per-name key: the presentation form, lowercased, cut to
/// [`NAME_KEY`] bytes and zero-padded.
struct NameKey {
    key: [u8; NAME_KEY],
    len: usize,
}

impl Write for NameKey {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if let Some(k) = self.key.get_mut(self.len) {
                *k = b.to_ascii_lowercase();
                self.len += 1;
            }
        }
        Ok(())
    }
}

fn filter(_len: u32) -> Verdict {
    // IP (up to 60 bytes, or 40 + IPv6 extension headers), UDP (8), DNS
    // header (12), a name of at most 255 bytes, type and class (4).
    let mut buf = host::PacketBuf::<512>::new();
    let pkt = buf.load();
    let seen = dns::inspect(pkt, BLOCKED_DOMAIN);
    seen.count(COUNTERS.map(), PER_QTYPE.map());
    match seen {
        Inspection::NotDns => {}
        Inspection::Query {
            ip,
            question: q,
            blocked,
        } => {
            let mut k = NameKey {
                key: [0; NAME_KEY],
                len: 0,
            };
            let _ = write!(k, "{}", q.name);
            // A full map leaves new names uncounted; nothing else changes.
            let _ = PER_NAME.add(&k.key, &1);
            if blocked {
                let mut ev = LogBuf::<200>::new();
                let _ = write!(ev, "{} {} from {}", q.name, QType(q.qtype), ip.src());
                // A full ring drops the record and counts it.
                let _ = BLOCKED.output(ev.as_bytes());
            }
            log!(
                "dns: {} {} {} from {}",
                if blocked { "DROP" } else { "query" },
                q.name,
                QType(q.qtype),
                ip.src()
            )
        }
        Inspection::Malformed { ip, error } => {
            log!("dns: malformed query from {}: {}", ip.src(), error)
        }
    }
    seen.verdict()
}

kwasm_guest::filter!(filter);
