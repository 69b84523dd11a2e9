//! {{name}}: a kwasm program in Zig. It drops UDP datagrams to port 7777,
//! logs each one it drops, and counts [accepted, dropped] in map 0.
//!
//!   make                                        # builds {{name}}.wasm
//!   kwasm load {{name}}.wasm --attach ipv4:input
//!   kwasm map dump {{name}} 0; kwasm log {{name}}
const kwasm = @import("kwasm");

comptime {
    asm (kwasm.mapsAsm(&.{kwasm.array(2)}));
}

const counters = 0;
const accepted = 0;
const dropped = 1;
const blocked_port = 7777;

export fn filter(len: i32) i32 {
    _ = len;
    var buf: [128]u8 = undefined;
    const b = kwasm.loadPacket(0, &buf);
    if (kwasm.parseIp(b)) |ip| {
        if (ip.proto == kwasm.proto_udp and kwasm.dstPort(b, ip) == blocked_port) {
            kwasm.log("{{name}}: dropped a datagram to port 7777");
            _ = kwasm.mapAdd(counters, dropped, 1);
            return @intFromEnum(kwasm.Verdict.drop);
        }
    }
    _ = kwasm.mapAdd(counters, accepted, 1);
    return @intFromEnum(kwasm.Verdict.accept);
}
