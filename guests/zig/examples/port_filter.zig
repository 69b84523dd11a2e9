//! port_filter.zig: drops UDP datagrams to destination port 9999 (IPv4 and
//! IPv6, through IPv6 extension headers), accepts everything else: the Zig
//! twin of guests/examples/port_filter (Rust), with the same map.
//!
//! Map 0, 2 entries: [accepted, dropped].
const kwasm = @import("kwasm");

comptime {
    asm (kwasm.mapsAsm(&.{kwasm.array(2)}));
}

const counters = 0;
const accepted = 0;
const dropped = 1;
const blocked_port = 9999;

fn verdict(b: []const u8) kwasm.Verdict {
    const ip = kwasm.parseIp(b) orelse return .accept;
    if (ip.proto != kwasm.proto_udp) return .accept;
    return if (kwasm.dstPort(b, ip) == blocked_port) .drop else .accept;
}

export fn filter(len: i32) i32 {
    _ = len;
    var buf: [128]u8 = undefined;
    const v = verdict(kwasm.loadPacket(0, &buf));
    _ = kwasm.mapAdd(counters, if (v == .drop) dropped else accepted, 1);
    return @intFromEnum(v);
}
