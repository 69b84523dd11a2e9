//! {{name}}: a kwasm program in Rust. It drops UDP datagrams to port 7777,
//! logs each one it drops, and counts [accepted, dropped] in map 0.
//!
//!   make                                        # builds {{name}}.wasm
//!   kwasm load {{name}}.wasm --attach ipv4:input
//!   kwasm map dump {{name}} 0; kwasm log {{name}}
#![no_std]

use kwasm_guest::maps::Array;
use kwasm_guest::net::{self, IpHeader, proto};
use kwasm_guest::{Verdict, host, log};

kwasm_guest::declare_maps! {
    /// `[accepted, dropped]`.
    static COUNTERS: Array<2>;
}

const ACCEPTED: u32 = 0;
const DROPPED: u32 = 1;
const BLOCKED_PORT: u16 = 7777;

fn filter(_len: u32) -> Verdict {
    let mut buf = host::PacketBuf::<128>::new();
    if let Some(ip) = IpHeader::parse(buf.load())
        && ip.protocol() == proto::UDP
        && matches!(net::ports(&ip), Some((_, BLOCKED_PORT)))
    {
        log!("{{name}}: dropped a datagram to port 7777 from {}", ip.src());
        COUNTERS.add(DROPPED, 1);
        return Verdict::Drop;
    }
    COUNTERS.add(ACCEPTED, 1);
    Verdict::Accept
}

kwasm_guest::filter!(filter);
