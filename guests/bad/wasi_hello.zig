// A Zig program built for WASI (it prints with the standard library):
// kwasm refuses its wasi_snapshot_preview1 imports.
const std = @import("std");

export fn filter(len: i32) i32 {
    std.debug.print("packet of {d} bytes\n", .{len});
    return 1;
}
