//! The `/dev/kwasm` ioctl interface.
//!
//! Every request is one fixed-size record (see [`super::wire`]) copied in and,
//! for `_IOR`/`_IOWR` requests, copied back. The ioctl number encodes the
//! record's size, so a truncated or oversized request is rejected by number.
//! Names are NUL-padded UTF-8 in fixed arrays.

use super::trap::TRAP_KINDS;
pub use super::wire::{Field, Record};

/// Path of the control device.
pub const DEVICE_PATH: &str = "/dev/kwasm";
/// Version of this interface; `MODULE_LAYOUT` reports the kernel's.
pub const IOCTL_VERSION: u32 = 5;
/// ioctl type byte ("k" for kwasm).
pub const IOCTL_TYPE: u32 = b'k' as u32;

/// Longest program name, NUL padding included.
pub const NAME_LEN: usize = 32;
/// Longest export name for `INVOKE`.
pub const EXPORT_LEN: usize = 64;
/// Most arguments/results `INVOKE` carries.
pub const MAX_INVOKE_VALUES: usize = 16;
/// Bytes reserved for the kernel's vermagic string.
pub const VERMAGIC_LEN: usize = 128;
/// Prefix of the kernel module name a program is loaded as.
pub const PROG_MODULE_PREFIX: &str = "kwasm_";

const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

/// Linux's generic `_IOC(dir, type, nr, size)` encoding (x86-64, arm64).
pub const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32 & 0x3fff) << 16) | (IOCTL_TYPE << 8) | nr
}

/// Netfilter protocol families (`NFPROTO_*`).
pub const FAMILY_IPV4: u32 = 2;
pub const FAMILY_IPV6: u32 = 10;

/// Netfilter hooks (`NF_INET_*`), in the kernel's numbering.
pub const HOOK_PRE_ROUTING: u32 = 0;
pub const HOOK_LOCAL_IN: u32 = 1;
pub const HOOK_FORWARD: u32 = 2;
pub const HOOK_LOCAL_OUT: u32 = 3;
pub const HOOK_POST_ROUTING: u32 = 4;

/// Hook names as the CLI spells them, indexed by hook number.
pub const HOOK_NAMES: [&str; 5] = ["prerouting", "input", "forward", "output", "postrouting"];

/// Parse `ipv4:input`-style attach points into (family, hook).
pub fn parse_attach_point(s: &str) -> Option<(u32, u32)> {
    let (fam, hook) = s.split_once(':')?;
    let family = match fam {
        "ipv4" => FAMILY_IPV4,
        "ipv6" => FAMILY_IPV6,
        _ => return None,
    };
    let hook = HOOK_NAMES.iter().position(|h| *h == hook)? as u32;
    Some((family, hook))
}

/// Name of an attach point, for listings.
pub fn attach_point_name(family: u32, hook: u32) -> (&'static str, &'static str) {
    let fam = match family {
        FAMILY_IPV4 => "ipv4",
        FAMILY_IPV6 => "ipv6",
        _ => "?",
    };
    (fam, HOOK_NAMES.get(hook as usize).copied().unwrap_or("?"))
}

/// Encode a name into a fixed NUL-padded array; `None` if too long, empty or
/// not a valid identifier (`[A-Za-z0-9_]`).
pub fn encode_name<const N: usize>(name: &str) -> Option<[u8; N]> {
    let ok = !name.is_empty()
        && name.len() < N
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !ok {
        return None;
    }
    let mut out = [0u8; N];
    out[..name.len()].copy_from_slice(name.as_bytes());
    Some(out)
}

/// Decode a NUL-terminated UTF-8 string of any content (vermagic).
pub fn decode_cstr(raw: &[u8]) -> Option<&str> {
    let len = raw.iter().position(|&b| b == 0)?;
    core::str::from_utf8(&raw[..len]).ok()
}

/// Decode a NUL-padded name; `None` unless it is valid as for [`encode_name`].
pub fn decode_name(raw: &[u8]) -> Option<&str> {
    let len = raw.iter().position(|&b| b == 0)?;
    let s = core::str::from_utf8(&raw[..len]).ok()?;
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(s)
}

kwasm_record!(
    /// `MODULE_LAYOUT` (read): what `kwasm load` needs to wrap a `.kw` as a
    /// loadable module for the running kernel.
    ModuleLayout {
        version: u32,
        /// `sizeof(struct module)`
        module_size: u32,
        /// `offsetof(struct module, name)`
        name_offset: u32,
        /// `offsetof(struct module, init)`
        init_offset: u32,
        /// `offsetof(struct module, exit)`
        exit_offset: u32,
        /// `MODULE_NAME_LEN`
        name_len: u32,
        /// [`super::types::Arch`] of the kernel.
        arch: u32,
        pad: u32,
        /// `VERMAGIC_STRING`, NUL-padded.
        vermagic: [u8; VERMAGIC_LEN],
        /// The 16 bytes that precede a function of type `initcall_t` in
        /// kwasm.ko: under `CONFIG_CFI_CLANG` the kCFI type-hash preamble
        /// that the module loader's indirect call to `init` checks. The init
        /// stub of a program module is placed right after a copy of them.
        /// Zero without CFI.
        init_preamble: [u8; CFI_PREAMBLE_LEN],
        /// The same for `exitcall_t` (the call to `exit` at unload).
        exit_preamble: [u8; CFI_PREAMBLE_LEN],
    }
);

/// Bytes of the kCFI preamble before a function (x86-64 with call padding:
/// `mov $hash, %eax` and 11 bytes of padding).
pub const CFI_PREAMBLE_LEN: usize = 16;

kwasm_record!(
    /// Per-program counters.
    ProgStats {
        invocations: u64,
        accepts: u64,
        drops: u64,
        /// Out-of-range verdicts (the default verdict was used).
        bad_verdicts: u64,
        /// Invocations skipped because the FPU was not usable here.
        fpu_unavailable: u64,
        /// Total run time of all invocations, in nanoseconds.
        run_ns: u64,
        /// Traps, indexed by `TrapCode::index()`.
        traps: [u64; TRAP_KINDS],
    }
);

/// Program flag: the program uses floats.
pub const PROG_USES_FLOAT: u32 = 1;
/// Program flag: a trap or a bad verdict drops the packet (else accepts).
pub const PROG_DROP_ON_TRAP: u32 = 2;
/// Most attachments one program can have.
pub const MAX_ATTACH: usize = 8;

kwasm_record!(
    /// One program, as `LIST` and `STATS` report it.
    ProgInfo {
        name: [u8; NAME_LEN],
        id: u32,
        flags: u32,
        funcs: u32,
        text_len: u32,
        mem_pages: u32,
        stack_kib: u32,
        fuel: u64,
        /// Attachments: `attach[i] = family << 16 | hook`, `nattach` used.
        nattach: u32,
        attach: [u8; 4 * MAX_ATTACH],
        priorities: [u8; 4 * MAX_ATTACH],
        nmaps: u32,
        stats: ProgStats,
    }
);

impl ProgInfo {
    /// Attachment `i` as (family, hook, priority).
    pub fn attachment(&self, i: usize) -> (u32, u32, i32) {
        let a = u32::from_le_bytes([
            self.attach[4 * i],
            self.attach[4 * i + 1],
            self.attach[4 * i + 2],
            self.attach[4 * i + 3],
        ]);
        let p = &self.priorities[4 * i..4 * i + 4];
        (
            a >> 16,
            a & 0xffff,
            i32::from_le_bytes([p[0], p[1], p[2], p[3]]),
        )
    }

    /// Record attachment `i`.
    pub fn set_attachment(&mut self, i: usize, family: u32, hook: u32, priority: i32) {
        self.attach[4 * i..4 * i + 4].copy_from_slice(&((family << 16) | hook).to_le_bytes());
        self.priorities[4 * i..4 * i + 4].copy_from_slice(&priority.to_le_bytes());
    }
}

kwasm_record!(
    /// `LIST` (write+read): `buf` is a user pointer to `cap` [`ProgInfo`]
    /// records; the kernel fills up to `cap` and sets `count` to the total.
    ListReq { buf: u64, cap: u32, count: u32 }
);

kwasm_record!(
    /// `STATS` (write+read): by name.
    StatsReq { name: [u8; NAME_LEN], info: ProgInfo }
);

kwasm_record!(
    /// `ATTACH`/`DETACH` (write).
    AttachReq { name: [u8; NAME_LEN], family: u32, hook: u32, priority: i32, pad: u32 }
);

kwasm_record!(
    /// `INVOKE` (write+read): call an export inside the kernel. `values` holds
    /// the arguments on input and the results on output ([`super::types::RawVal`]
    /// encoding). `trap` is 0 or a `TrapCode`.
    InvokeReq {
        name: [u8; NAME_LEN],
        export: [u8; EXPORT_LEN],
        nargs: u32,
        nresults: u32,
        trap: u32,
        trap_func: u32,
        /// Fuel for this call; 0 = the program's default.
        fuel: u64,
        values: [u64; MAX_INVOKE_VALUES],
    }
);

kwasm_record!(
    /// `MAP_GET` (write+read) copies `count` entries from `index` on into the
    /// user buffer `buf`; `MAP_SET` (write) stores `value` at `index`. For a
    /// per-CPU map, `cpu` picks CPU `cpu`'s copy, or with
    /// `maps::ALL_CPUS` the sum (get) or every copy (set); other maps
    /// ignore it. `MAP_GET` sets `len` to the map's number of entries,
    /// `kind` to its `maps::MapKind`, `copies` to its copies of each
    /// entry (the CPUs for a per-CPU map, else 1), the key and value sizes,
    /// and `used` to the keys a hash map holds (an array: `len`). A hash
    /// map has no indices: `MAP_GET` with `count` 0 describes it, and
    /// [`MapElemReq`] reaches its entries.
    MapReq {
        name: [u8; NAME_LEN],
        map: u32,
        index: u32,
        count: u32,
        len: u32,
        value: u64,
        buf: u64,
        cpu: u32,
        kind: u32,
        copies: u32,
        key_size: u32,
        value_size: u32,
        used: u32,
    }
);

/// [`MapElemReq::op`]: copy the value of `key` into `value`.
pub const ELEM_LOOKUP: u32 = 0;
/// Insert or replace `key`'s value from `value`, as `flags`
/// (`hash::UPDATE_*`) says.
pub const ELEM_UPDATE: u32 = 1;
/// Remove `key`.
pub const ELEM_DELETE: u32 = 2;
/// Copy out the first entry at or after bucket `cursor` into `key` and
/// `value`, and set `cursor` to its bucket; the next call passes `cursor +
/// 1`. Fails with `ENOENT` past the last entry.
pub const ELEM_NEXT: u32 = 3;

kwasm_record!(
    /// `MAP_ELEM` (write+read): one operation on an entry of a hash map,
    /// like `bpf(BPF_MAP_*_ELEM)`. `key` and `value` are user addresses of
    /// exactly the map's key and value sizes (`key_size`, `value_size`),
    /// which the kernel checks. A failed operation fails the ioctl with the
    /// errno of its `maps::MapStatus`.
    MapElemReq {
        name: [u8; NAME_LEN],
        map: u32,
        op: u32,
        flags: u32,
        cursor: u32,
        key: u64,
        value: u64,
        key_size: u32,
        value_size: u32,
    }
);

/// [`EventsReq::map`] for a program's log ring: what its `kwasm.log`
/// calls wrote (the console gets them rate-limited; the ring gets every one
/// that fits).
pub const LOG_RING: u32 = u32::MAX;
/// Bytes of a program's log ring.
pub const LOG_RING_BYTES: u32 = 64 * 1024;
/// Most bytes one `EVENTS` copies out (the kernel bounces them through a
/// buffer of this size at most).
pub const EVENTS_MAX_READ: u32 = 1 << 20;

kwasm_record!(
    /// `EVENTS` (write+read): drains whole records of ring buffer `map` (or
    /// [`LOG_RING`]) into the user buffer `buf` of `buf_len` bytes, in the
    /// format of `ring::Ring::peek` (parse with `ring::records`), and
    /// consumes only what was copied: a record is never lost or torn, even
    /// when the copy faults. Sets `bytes` and `records` copied, `dropped`
    /// (records the ring has dropped since the program loaded) and
    /// `pending` (bytes still in the ring). Readers of one program take
    /// turns.
    EventsReq {
        name: [u8; NAME_LEN],
        map: u32,
        buf_len: u32,
        buf: u64,
        bytes: u32,
        records: u32,
        dropped: u64,
        pending: u64,
    }
);

/// Largest `BENCH` packet: 65535 bytes, the largest IPv4 datagram (its
/// total-length field), so every packet the hook can see at the IP layer
/// without GSO can be replayed. The kernel builds one linear skb of that size.
pub const BENCH_MAX_PACKET: u32 = 65535;
/// Most calls of one `BENCH`: 100 million (minutes under QEMU TCG, always
/// interruptible between batches).
pub const BENCH_MAX_REPEAT: u32 = 100_000_000;
/// Most calls per batch (one batch runs with bottom halves disabled). The
/// kernel also shrinks a batch so that it lasts about [`BENCH_BATCH_NS`].
pub const BENCH_MAX_BATCH: u32 = 65536;
/// Most batches of one `BENCH` (the kernel keeps one time per batch for the
/// median and p99: at most 512 KiB).
pub const BENCH_MAX_BATCHES: u32 = 65536;
/// Target length of one batch, in ns: long enough for the clock's overhead
/// to vanish, short enough that bottom halves are not held off for long.
pub const BENCH_BATCH_NS: u64 = 1_000_000;

kwasm_record!(
    /// `BENCH` (write+read): run a program's `filter` on one packet `repeat`
    /// times in the kernel, exactly as the netfilter hook runs it (the
    /// model is eBPF's `BPF_PROG_TEST_RUN`), on the caller's CPU, in batches
    /// with bottom halves disabled, yielding and checking for signals
    /// between batches. The program is found by `name`, or by `id` when
    /// `name` is all zero. `packet` points to `packet_len` bytes
    /// (1..=[`BENCH_MAX_PACKET`]) that `pkt_load` sees from offset 0 (the
    /// network header). Bench runs are not counted in the program's stats.
    ///
    /// Output fields are written by the kernel; times are wall time on the
    /// caller's CPU (`sched_clock`).
    BenchReq {
        name: [u8; NAME_LEN],
        id: u32,
        /// Must be 0 (room for later modes, e.g. another entry point).
        flags: u32,
        packet: u64,
        packet_len: u32,
        /// Calls to make, 1..=[`BENCH_MAX_REPEAT`].
        repeat: u32,
        /// In: calls per batch, 0 = automatic ([`BENCH_BATCH_NS`] per
        /// batch), at most [`BENCH_MAX_BATCH`]. Out: the largest batch
        /// used (each is sized by [`bench_batch_size`] from the previous
        /// batch's time per call).
        batch: u32,
        /// Out: the number of batches.
        batches: u32,
        /// Out: the verdict of the last call, as the hook returns it
        /// (`VERDICT_ACCEPT`/`VERDICT_DROP`, or the default verdict after a
        /// trap or an invalid result).
        verdict: u32,
        /// Out: the CPU the bench ran on.
        cpu: u32,
        /// Out: calls made (== `repeat` unless interrupted: then the ioctl
        /// fails with EINTR).
        runs: u64,
        /// Out: time of all batches, ns.
        total_ns: u64,
        /// Out: per-call time of the batches (batch time / batch calls), in
        /// picoseconds: median, 99th percentile, minimum, maximum.
        median_ps: u64,
        p99_ps: u64,
        min_ps: u64,
        max_ps: u64,
        /// Out: calls by outcome; `skipped` did not run (the FPU was not
        /// usable, or the instance was busy).
        accepts: u64,
        drops: u64,
        bad_verdicts: u64,
        skipped: u64,
        /// Out: all traps, and out-of-fuel traps among them.
        traps: u64,
        out_of_fuel: u64,
    }
);

/// What one bench call did, as both runtimes classify it for [`BenchReq`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchOutcome {
    Accept,
    Drop,
    /// `filter` returned something other than accept or drop.
    BadVerdict,
    /// The call did not run (FPU not usable, instance busy).
    Skipped,
    Trap {
        out_of_fuel: bool,
    },
}

impl BenchOutcome {
    /// The outcome of a `filter` call that returned `v`.
    pub fn of_verdict(v: i32) -> BenchOutcome {
        match v {
            super::host::VERDICT_ACCEPT => BenchOutcome::Accept,
            super::host::VERDICT_DROP => BenchOutcome::Drop,
            _ => BenchOutcome::BadVerdict,
        }
    }
}

impl BenchReq {
    /// Counts one call's outcome in the output fields.
    pub fn count(&mut self, o: BenchOutcome) {
        let n = match o {
            BenchOutcome::Accept => &mut self.accepts,
            BenchOutcome::Drop => &mut self.drops,
            BenchOutcome::BadVerdict => &mut self.bad_verdicts,
            BenchOutcome::Skipped => &mut self.skipped,
            BenchOutcome::Trap { out_of_fuel } => {
                self.out_of_fuel += out_of_fuel as u64;
                &mut self.traps
            }
        };
        *n += 1;
    }

    /// Accounts a batch of `n` calls that took `ns`: calls, total time and
    /// the largest batch. Returns the batch's time per call in picoseconds,
    /// for [`Self::summarise`].
    pub fn add_batch(&mut self, n: u32, ns: u64) -> u64 {
        self.batch = self.batch.max(n);
        self.runs += n as u64;
        self.total_ns += ns;
        ns.saturating_mul(1000) / n.max(1) as u64
    }

    /// Fills `batches` and the per-call summary from every batch's time per
    /// call ([`bench_summary`]).
    pub fn summarise(&mut self, per_call_ps: &mut [u64]) {
        self.batches = per_call_ps.len() as u32;
        (self.median_ps, self.p99_ps, self.min_ps, self.max_ps) = bench_summary(per_call_ps);
    }

    /// Mean time per call, in picoseconds.
    pub fn mean_ps(&self) -> u64 {
        (self.total_ns as u128 * 1000 / (self.runs.max(1) as u128)) as u64
    }
}

/// The batch size `BENCH` uses: `requested` (or, when 0, enough calls of
/// `call_ns` each to fill [`BENCH_BATCH_NS`]), never longer than that
/// target, at least 1, at most [`BENCH_MAX_BATCH`] and `repeat`, and large
/// enough that `repeat` fits in [`BENCH_MAX_BATCHES`] batches.
pub fn bench_batch_size(requested: u32, repeat: u32, call_ns: u64) -> u32 {
    let fit = (BENCH_BATCH_NS / call_ns.max(1)).clamp(1, BENCH_MAX_BATCH as u64) as u32;
    let want = if requested == 0 {
        fit
    } else {
        requested.min(fit)
    };
    let least = repeat.div_ceil(BENCH_MAX_BATCHES);
    want.max(least).clamp(1, repeat.max(1))
}

/// The per-call times of batches, in picoseconds, sorted in place:
/// (median, p99, min, max); zeros when empty. The kernel and `kwasm bench
/// --user` summarise with this one function.
pub fn bench_summary(per_call_ps: &mut [u64]) -> (u64, u64, u64, u64) {
    if per_call_ps.is_empty() {
        return (0, 0, 0, 0);
    }
    per_call_ps.sort_unstable();
    let n = per_call_ps.len();
    let p99 = (n * 99).div_ceil(100).clamp(1, n) - 1;
    (
        per_call_ps[n / 2],
        per_call_ps[p99],
        per_call_ps[0],
        per_call_ps[n - 1],
    )
}

kwasm_record!(
    /// The load configuration `kwasm load` embeds in a program module
    /// (section [`LOAD_CONFIG_SECTION`]) and the init stub passes to
    /// `kwasm_register`.
    LoadConfig {
        magic: u32,
        version: u32,
        name: [u8; NAME_LEN],
        fuel: u64,
        stack_kib: u32,
        flags: u32,
    }
);

pub const LOAD_CONFIG_MAGIC: u32 = u32::from_le_bytes(*b"KWLC");
pub const LOAD_CONFIG_SECTION: &str = ".rodata.kwasm_cfg";
/// Defaults and bounds of the load configuration (fuel: [`super::fuel`]).
pub const DEFAULT_STACK_KIB: u32 = 64;
pub const MIN_STACK_KIB: u32 = 32;
pub const MAX_STACK_KIB: u32 = 1024;

/// Names of the functions `kwasm.ko` exports to program modules:
/// `int kwasm_register(struct module *m, const u8 *meta, size_t meta_len,
/// const u8 *text, size_t text_len, const u8 *cfg)` (`cfg` points to
/// `LoadConfig::SIZE` bytes) and
/// `void kwasm_unregister(struct module *m)`.
pub const REGISTER_SYMBOL: &str = "kwasm_register";
pub const UNREGISTER_SYMBOL: &str = "kwasm_unregister";

pub const MODULE_LAYOUT: u32 = ioc(IOC_READ, 1, ModuleLayout::SIZE);
pub const LIST: u32 = ioc(IOC_READ | IOC_WRITE, 2, ListReq::SIZE);
pub const STATS: u32 = ioc(IOC_READ | IOC_WRITE, 3, StatsReq::SIZE);
pub const ATTACH: u32 = ioc(IOC_WRITE, 4, AttachReq::SIZE);
pub const DETACH: u32 = ioc(IOC_WRITE, 5, AttachReq::SIZE);
pub const INVOKE: u32 = ioc(IOC_READ | IOC_WRITE, 6, InvokeReq::SIZE);
pub const MAP_GET: u32 = ioc(IOC_READ | IOC_WRITE, 7, MapReq::SIZE);
pub const MAP_SET: u32 = ioc(IOC_WRITE, 8, MapReq::SIZE);
pub const BENCH: u32 = ioc(IOC_READ | IOC_WRITE, 9, BenchReq::SIZE);
pub const MAP_ELEM: u32 = ioc(IOC_READ | IOC_WRITE, 10, MapElemReq::SIZE);
pub const EVENTS: u32 = ioc(IOC_READ | IOC_WRITE, 11, EventsReq::SIZE);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fit_ioctl_encoding() {
        for size in [
            ModuleLayout::SIZE,
            ListReq::SIZE,
            StatsReq::SIZE,
            AttachReq::SIZE,
            InvokeReq::SIZE,
            MapReq::SIZE,
            MapElemReq::SIZE,
            EventsReq::SIZE,
            BenchReq::SIZE,
        ] {
            assert!(size < 1 << 14);
        }
        assert_eq!(ioc(IOC_READ, 1, 16) >> 30, 2);
    }

    #[test]
    fn records_round_trip() {
        let mut info = ProgInfo {
            name: encode_name("port_filter").unwrap(),
            id: 3,
            ..Default::default()
        };
        info.set_attachment(1, FAMILY_IPV6, HOOK_LOCAL_OUT, -100);
        info.stats.traps[2] = 9;
        let mut buf = [0u8; ProgInfo::SIZE];
        info.write(&mut buf);
        let back = ProgInfo::read(&buf);
        assert_eq!(back, info);
        assert_eq!(back.attachment(1), (FAMILY_IPV6, HOOK_LOCAL_OUT, -100));
        assert_eq!(decode_name(&back.name), Some("port_filter"));
    }

    #[test]
    fn bench_batches_and_summary() {
        // Automatic: fill the target time, within the caps.
        assert_eq!(bench_batch_size(0, 1000, 1000), 1000);
        assert_eq!(bench_batch_size(0, 1_000_000, 100), 10_000);
        assert_eq!(bench_batch_size(0, 1_000_000, 0), BENCH_MAX_BATCH);
        // Requested: shrunk to the target time, at least 1.
        assert_eq!(bench_batch_size(500, 10_000, 10), 500);
        assert_eq!(bench_batch_size(500, 10_000, 100_000), 10);
        assert_eq!(bench_batch_size(5, 10_000, u64::MAX), 1);
        // Never more batches than the cap.
        let b = bench_batch_size(1, BENCH_MAX_REPEAT, 1);
        assert!(BENCH_MAX_REPEAT.div_ceil(b) <= BENCH_MAX_BATCHES);
        let mut t: [u64; 100] = core::array::from_fn(|i| 100 - i as u64);
        assert_eq!(bench_summary(&mut t), (51, 99, 1, 100));
        assert_eq!(bench_summary(&mut [7]), (7, 7, 7, 7));
        assert_eq!(bench_summary(&mut []), (0, 0, 0, 0));
    }

    #[test]
    fn bench_accounting() {
        let mut r = BenchReq::default();
        for v in [1, 0, 1, 7] {
            r.count(BenchOutcome::of_verdict(v));
        }
        r.count(BenchOutcome::Skipped);
        r.count(BenchOutcome::Trap { out_of_fuel: true });
        r.count(BenchOutcome::Trap { out_of_fuel: false });
        assert_eq!(
            (
                r.accepts,
                r.drops,
                r.bad_verdicts,
                r.skipped,
                r.traps,
                r.out_of_fuel
            ),
            (2, 1, 1, 1, 2, 1)
        );
        let mut per_call = [r.add_batch(4, 2000), r.add_batch(2, 3000)];
        assert_eq!(per_call, [500_000, 1_500_000]);
        r.summarise(&mut per_call);
        assert_eq!((r.runs, r.total_ns, r.batch, r.batches), (6, 5000, 4, 2));
        assert_eq!((r.min_ps, r.max_ps), (500_000, 1_500_000));
    }

    #[test]
    fn names_and_attach_points() {
        assert!(encode_name::<NAME_LEN>("").is_none());
        assert!(encode_name::<NAME_LEN>("a/b").is_none());
        assert!(encode_name::<NAME_LEN>(&"x".repeat(NAME_LEN)).is_none());
        assert_eq!(decode_name(&[b'a', 0xff, 0]), None);
        assert_eq!(decode_name(&[b'a'; 4]), None);
        assert_eq!(
            parse_attach_point("ipv4:input"),
            Some((FAMILY_IPV4, HOOK_LOCAL_IN))
        );
        assert_eq!(
            parse_attach_point("ipv6:postrouting"),
            Some((FAMILY_IPV6, HOOK_POST_ROUTING))
        );
        assert_eq!(parse_attach_point("ipv5:input"), None);
    }
}
