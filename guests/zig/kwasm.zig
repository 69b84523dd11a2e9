//! kwasm.zig: the Zig SDK for kwasm programs. The host functions and
//! constants are abi's (kwasm_abi.zig, generated); this file adds typed
//! helpers, map declarations and header parsing. A program builds with
//!
//!   zig build-exe prog.zig -target wasm32-freestanding -fno-entry \
//!       -rdynamic -O ReleaseSmall
//!
//! (`python3 -m ziglang` is Zig from PyPI) and exports
//! `filter(len: i32) i32`.
const std = @import("std");
pub const abi = @import("kwasm_abi.zig");

pub const Verdict = enum(i32) { drop = abi.VERDICT_DROP, accept = abi.VERDICT_ACCEPT };

fn ptr(p: anytype) i32 {
    return @intCast(@intFromPtr(p));
}

/// Writes `msg` to the program's log (`kwasm log NAME`).
pub fn log(msg: []const u8) void {
    abi.log(ptr(msg.ptr), @intCast(msg.len));
}

/// Copies packet bytes from `off` into `buf`; returns the bytes copied.
pub fn loadPacket(off: u32, buf: []u8) []u8 {
    const n = abi.pkt_load(@intCast(off), ptr(buf.ptr), @intCast(buf.len));
    return buf[0..@intCast(n)];
}

/// Adds `delta` to entry `idx` of array map `map`; traps if out of range.
pub fn mapAdd(map: i32, idx: u32, delta: u64) u64 {
    return @bitCast(abi.map_add(map, @bitCast(idx), @bitCast(delta)));
}

/// One map declaration (a kwasm.maps v2 record).
pub const Map = struct { kind: u32, key: u32, value: u32, entries: u32 };
pub fn array(entries: u32) Map {
    return .{ .kind = abi.MAP_ARRAY, .key = 4, .value = 8, .entries = entries };
}
pub fn perCpuArray(entries: u32) Map {
    return .{ .kind = abi.MAP_PER_CPU_ARRAY, .key = 4, .value = 8, .entries = entries };
}
pub fn hash(key: u32, value: u32, entries: u32) Map {
    return .{ .kind = abi.MAP_HASH, .key = key, .value = value, .entries = entries };
}
pub fn ringBuf(bytes: u32) Map {
    return .{ .kind = abi.MAP_RING_BUF, .key = 0, .value = 0, .entries = bytes };
}

/// The assembly that writes the `kwasm.maps` custom section, map `i` being
/// `maps[i]`: `comptime { asm (kwasm.mapsAsm(&.{kwasm.array(2)})); }`.
pub fn mapsAsm(comptime maps: []const Map) []const u8 {
    comptime {
        var s: []const u8 = ".section .custom_section.kwasm.maps,\"\",@\n";
        for (maps) |m| {
            s = s ++ std.fmt.comptimePrint(".int32 {d}\n.int32 {d}\n.int32 {d}\n.int32 {d}\n", .{ abi.DECL_TAG | m.kind, m.key, m.value, m.entries });
        }
        return s ++ ".text\n";
    }
}

pub fn be16(b: []const u8, off: usize) ?u16 {
    if (off + 2 > b.len) return null;
    return @as(u16, b[off]) << 8 | b[off + 1];
}

pub const proto_udp = 17;

/// The upper-layer protocol and transport offset of the IP packet `b`
/// (after IPv6 extension headers; the Rust SDK's rules, net.rs), or null
/// when it is not IP. `l4` is null when the transport header is not in the
/// packet (a non-first fragment, ESP, a truncated chain).
pub const Ip = struct { proto: u8, l4: ?usize, end: usize };

pub fn parseIp(b: []const u8) ?Ip {
    if (b.len >= 20 and b[0] >> 4 == 4) {
        const hl = @as(usize, b[0] & 0xf) * 4;
        if (hl < 20 or b.len < hl) return null;
        const tl: usize = be16(b, 2).?;
        var end = if (tl == 0) b.len else @min(tl, b.len);
        if (end < hl) end = hl;
        const frag = be16(b, 6).? & 0x1fff;
        return .{ .proto = b[9], .l4 = if (frag != 0) null else hl, .end = end };
    }
    if (b.len < 40 or b[0] >> 4 != 6) return null;
    const pl: usize = be16(b, 4).?;
    const end = if (pl == 0) b.len else @min(40 + pl, b.len);
    var nh = b[6];
    var off: usize = 40;
    var i: usize = 0;
    while (i < 8) : (i += 1) {
        var len: usize = 0;
        switch (nh) {
            0, 43, 60 => {
                if (off + 1 >= end) break;
                len = (@as(usize, b[off + 1]) + 1) * 8;
            },
            51 => {
                if (off + 1 >= end) break;
                len = (@as(usize, b[off + 1]) + 2) * 4;
            },
            44 => {
                if (off + 3 >= end) break;
                if (be16(b, off + 2).? >> 3 != 0) return .{ .proto = b[off], .l4 = null, .end = end };
                len = 8;
            },
            50, 59 => break,
            else => return .{ .proto = nh, .l4 = off, .end = end },
        }
        if (off + len > end) break;
        nh = b[off];
        off += len;
    }
    return .{ .proto = nh, .l4 = null, .end = end };
}

/// The UDP or TCP destination port, if it is in the packet.
pub fn dstPort(b: []const u8, ip: Ip) ?u16 {
    const l4 = ip.l4 orelse return null;
    if (l4 + 4 > ip.end) return null;
    return be16(b, l4 + 2);
}
