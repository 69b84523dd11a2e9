//! Guest SDK for kwasm: WebAssembly programs that run inside the Linux kernel
//! at a netfilter hook.
//!
//! A program is a `cdylib` crate built for `wasm32-unknown-unknown` without
//! `std`. It exports `filter(pkt_len: i32) -> i32`, which the kernel calls for
//! every packet and which returns a [`Verdict`]. This crate provides:
//!
//! - [`host`]: safe wrappers over the host imports of module `kwasm` (`log`,
//!   `pkt_len`, `pkt_load`, `time_ns`, `map_get`, `map_set`, `map_add`,
//!   `random_u32`), plus [`Map`](host::Map), a handle on one map;
//! - [`log!`]: `format!`-style logging into a fixed stack buffer, no allocator;
//! - [`maps!`]: declares the program's maps (the `kwasm.maps` custom section);
//! - [`filter!`]: exports a Rust function as the `filter` entry point;
//! - [`net`]: IPv4/IPv6/UDP/TCP header parsing over byte slices;
//! - [`dns`]: DNS header and question parsing with bounds checks;
//! - a panic handler (feature `panic-handler`, on by default) that executes
//!   `unreachable`, so a panic ends the call with a kwasm trap.
//!
//! The parsing modules work on `&[u8]` and do not touch the host, so their
//! unit tests run on the build machine:
//! `cargo test -p kwasm-guest --target x86_64-unknown-linux-gnu`.
//!
//! # A minimal program
//!
//! ```ignore
//! #![no_std]
//! use kwasm_guest::{host::Map, net, Verdict};
//!
//! kwasm_guest::maps!(2); // map 0: two counters
//! const COUNTERS: Map = Map::new(0);
//!
//! fn filter(_len: u32) -> Verdict {
//!     let mut buf = kwasm_guest::host::PacketBuf::<64>::new();
//!     let pkt = buf.load();
//!     if let Some(ip) = net::IpHeader::parse(pkt) {
//!         if ip.protocol() == net::proto::ICMP {
//!             COUNTERS.add(1, 1);
//!             return Verdict::Drop;
//!         }
//!     }
//!     COUNTERS.add(0, 1);
//!     Verdict::Accept
//! }
//! kwasm_guest::filter!(filter);
//! ```
//!
//! # Running outside wasm
//!
//! On targets other than `wasm32` the host functions are replaced by inert
//! stand-ins (no packet, maps read as 0, logging discarded; under `cfg(test)`
//! an in-process mock), so that programs and this crate can be type-checked,
//! linted and unit-tested on the build machine.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs)]

pub mod abi;
pub mod dns;
pub mod host;
pub mod log;
pub mod maps;
pub mod net;
pub mod sys;

/// A netfilter verdict, in the kernel's own numbering (as eBPF netfilter
/// programs use it). Any other value returned from `filter` counts as an error
/// and the kernel applies the program's default verdict instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Verdict {
    /// Drop the packet (`NF_DROP`, [`abi::VERDICT_DROP`]).
    Drop = abi::VERDICT_DROP,
    /// Let the packet through (`NF_ACCEPT`, [`abi::VERDICT_ACCEPT`]).
    Accept = abi::VERDICT_ACCEPT,
}

impl Verdict {
    /// The raw value returned from the `filter` export.
    #[inline]
    pub const fn as_i32(self) -> i32 {
        self as i32
    }
}

impl From<Verdict> for i32 {
    #[inline]
    fn from(v: Verdict) -> i32 {
        v as i32
    }
}

/// Exports a Rust function as the program's entry point
/// `filter(pkt_len: i32) -> i32`.
///
/// The function must have the type `fn(u32) -> Verdict`; it receives the
/// packet length (the same value [`host::pkt_len`] returns). It may itself be
/// called `filter`: the export is generated under another Rust name.
///
/// ```ignore
/// fn my_filter(len: u32) -> kwasm_guest::Verdict { kwasm_guest::Verdict::Accept }
/// kwasm_guest::filter!(my_filter);
/// ```
#[macro_export]
macro_rules! filter {
    // `#[export_name]` takes only a literal: the export name is written once,
    // here, and checked against `kwasm_abi::host::FILTER_EXPORT`.
    (@export $name:literal, $f:path) => {
        const _: () = {
            assert!(
                $crate::abi::str_eq($name, $crate::abi::FILTER_EXPORT),
                "filter!: the export name is not kwasm_abi::host::FILTER_EXPORT"
            );
            /// The netfilter entry point called by kwasm for every packet.
            #[unsafe(export_name = $name)]
            extern "C" fn __kwasm_filter(pkt_len: i32) -> i32 {
                let f: fn(u32) -> $crate::Verdict = $f;
                f(pkt_len as u32).as_i32()
            }
        };
    };
    ($f:path) => {
        $crate::filter!(@export "filter", $f);
    };
}

/// Turns a panic into a kwasm trap (`Unreachable`): there is nobody to unwind
/// to and no stderr inside the kernel. The panic message is not formatted, so
/// the formatting machinery is not linked in just for panics.
#[cfg(all(target_arch = "wasm32", feature = "panic-handler", not(test)))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
