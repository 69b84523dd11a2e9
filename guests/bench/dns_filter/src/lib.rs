//! `dns_filter`: the bench twin of `examples/dns_parser`: the same classification,
//! verdicts and maps (`kwasm_guest::dns::inspect`), without the logging.
//!
//! `kwasm bench` compares it with the eBPF (`guests/bench/bpf/dns.bpf.c`)
//! and native C (`native_bench.ko`, filter `dns`) versions, which cannot log
//! cheaply: with the `log!` calls the comparison would time formatting, not
//! filtering.
//!
//! Maps: 0 `[queries, blocked, malformed, other]` (4), 1 queries per query
//! type (256; entry 0 collects types above 255).
#![no_std]

use kwasm_guest::Verdict;
use kwasm_guest::dns;
use kwasm_guest::host::{self, Map};

kwasm_guest::maps!(4, 256);

const COUNTERS: Map = Map::new(0);
const PER_QTYPE: Map = Map::new(1);

/// Queries for this name and the names below it are dropped.
const BLOCKED_DOMAIN: &str = "blocked.test";

fn filter(_len: u32) -> Verdict {
    // As dns_parser: the first 512 bytes of the packet.
    let mut buf = host::PacketBuf::<512>::new();
    let seen = dns::inspect(buf.load(), BLOCKED_DOMAIN);
    seen.count(COUNTERS, PER_QTYPE);
    seen.verdict()
}

kwasm_guest::filter!(filter);
