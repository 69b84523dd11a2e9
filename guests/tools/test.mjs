// test.mjs: end-to-end tests of the built guest programs on Node.js (V8), using
// the reference host in kwasm-node.mjs and hand-built packets.
//
//   node tools/test.mjs [OUT_DIR] [--bin DIR]
//
// OUT_DIR defaults to out (run ./build.sh first). With --bin DIR (a directory
// holding `kwasmc` and `kwasm`, e.g. ../target/debug), the same programs are
// also compiled with kwasmc and run with `kwasm run` (the userspace runner):
// compute values, trap messages, and the examples' verdicts and log lines on
// the same packets (passed with --packet).
//
// It checks verdicts, map contents and log lines of the Rust examples, the
// results of compute.wat, hello.wat, and that every trap program traps. It
// does not test fuel (V8 has none: infinite_loop is skipped) or kwasmc's
// import checks (JS imports accept any signature: bad_import is skipped).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { Guest, HostError } from "./kwasm-node.mjs";

const argv = process.argv.slice(2);
let bin = null;
const bi = argv.indexOf("--bin");
if (bi >= 0) {
  bin = argv[bi + 1];
  argv.splice(bi, 2);
}
const out = argv[0] ?? "out";

// ---- the userspace runner (optional) ----
const tmp = bin ? mkdtempSync(join(tmpdir(), "kwasm-guest-test-")) : null;
const compiled = new Map();
function kw(name) {
  if (!compiled.has(name)) {
    const dst = join(tmp, name.replace(/[\/]/g, "_").replace(/\.wasm$/, ".kw"));
    const r = spawnSync(join(bin, "kwasmc"), ["compile", join(out, name), "-o", dst], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`kwasmc ${name}: ${r.stderr}`);
    compiled.set(name, dst);
  }
  return compiled.get(name);
}
/// Runs `kwasm run` on a program: { status, results (stdout lines), logs (stderr lines) }.
function run(name, args, { packet = null, fuel = 10000000 } = {}) {
  const extra = [];
  if (packet) {
    const f = join(tmp, "packet.bin");
    writeFileSync(f, packet);
    extra.push("--packet", f);
  }
  const r = spawnSync(join(bin, "kwasm"), ["run", kw(name), "--fuel", String(fuel), ...extra, ...args], { encoding: "utf8" });
  const lines = (t) => t.split("\n").filter((l) => l !== "");
  return { status: r.status, results: lines(r.stdout), logs: lines(r.stderr) };
}
const load = (name) => new Guest(readFileSync(join(out, name)));
let failures = 0;
let passes = 0;
function check(what, got, want) {
  const g = JSON.stringify(got, (_, v) => (typeof v === "bigint" ? v.toString() : v));
  const w = JSON.stringify(want, (_, v) => (typeof v === "bigint" ? v.toString() : v));
  if (g === w) {
    passes++;
  } else {
    failures++;
    console.log(`FAIL ${what}: got ${g}, want ${w}`);
  }
}

// ---- packet builders (network byte order) ----
const u16 = (n) => [(n >> 8) & 0xff, n & 0xff];
function ipv4(proto, payload, { frag = 0 } = {}) {
  const total = 20 + payload.length;
  return Uint8Array.from([
    0x45, 0, ...u16(total), 0x12, 0x34, ...u16(frag), 64, proto, 0, 0,
    192, 0, 2, 1, 192, 0, 2, 2, ...payload,
  ]);
}
function ipv6(next, payload) {
  return Uint8Array.from([
    0x60, 0, 0, 0, ...u16(payload.length), next, 64,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
    ...payload,
  ]);
}
const udp = (src, dst, payload = []) => [...u16(src), ...u16(dst), ...u16(8 + payload.length), 0, 0, ...payload];
const tcp = (src, dst) => [...u16(src), ...u16(dst), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0];
function dnsName(name) {
  const w = [];
  for (const l of name.split(".").filter((x) => x)) w.push(l.length, ...Buffer.from(l));
  w.push(0);
  return w;
}
const dnsQuery = (name, qtype = 1, id = 0x1234) => [...u16(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, ...dnsName(name), ...u16(qtype), 0, 1];
const UDP = 17, TCP = 6, ICMPV6 = 58, HOPOPT = 0, FRAG = 44;

// ---- hello.wat ----
{
  const g = load("hello.wasm");
  check("hello run", g.instance.exports.run(), 0);
  check("hello main", g.instance.exports.main(), 0);
  check("hello filter", g.filter(), 1);
  check("hello logs", g.logs, ["hello, world", "hello, world", "hello, world"]);
  if (bin) {
    check("runner hello filter", run("hello.wasm", ["--invoke", "filter", "0"]), { status: 0, results: ["1"], logs: ["hello, world"] });
    check("runner hello run", run("hello.wasm", ["--invoke", "run"]), { status: 0, results: ["0"], logs: ["hello, world"] });
    check("runner hello main", run("hello.wasm", ["--invoke", "main"]).results, ["0"]);
  }
}

// ---- per_cpu.wat ----
{
  // One CPU here: the per_cpu_array's one copy counts what the shared array
  // counts. (The kernel's copies per CPU: vm/checks/35-per-cpu.sh.)
  const g = load("per_cpu.wasm");
  for (let i = 0; i < 3; i++) check(`per_cpu filter ${i}`, g.filter(new Uint8Array(20)), 1);
  check("per_cpu maps", g.mapValues(), [[3n, 0n], [3n]]);
  g.instance.exports.set(0, 1, 9n);
  check("per_cpu get", [g.instance.exports.get(0, 0), g.instance.exports.get(0, 1)], [3n, 9n]);
  if (bin) {
    check("runner per_cpu get", run("per_cpu.wasm", ["--invoke", "get", "0", "0"]).results, ["0"]);
    check("runner per_cpu out of range traps", run("per_cpu.wasm", ["--invoke", "get", "0", "2"]).status, 2);
  }
}

// ---- compute.wat ----
{
  const e = load("compute.wasm").instance.exports;
  check("fib 50", e.fib(50), 12586269025n);
  check("fib 0", e.fib(0), 0n);
  check("fib 100 (wraps)", e.fib(100), 3736710778780434371n);
  check("fib_rec 20", e.fib_rec(20), 6765);
  check("fsum", e.fsum(1.5, 2.25), 3.75);
  check("fpoly 2", e.fpoly(2), 40.41421356237309);
  check("fmix32 3", e.fmix32(3), 1.25);
  check("mem_sum 16", e.mem_sum(16), 1360);
  check("mem_sum 0", e.mem_sum(0), 0);
  check("dispatch", [0, 1, 2, 3].map((op) => e.dispatch(op, 12)), [13, 24, 144, -12]);
  check("sext 0x80", e.sext(0x80), -128n);
  check("sext 0x7f", e.sext(0x7f), 127n);
  check("sat", [e.sat(1e300), e.sat(-1e300), e.sat(NaN), e.sat(-3.9)], [2147483647, -2147483648, 0, -3]);
  check("divmod", e.divmod(17, 5), [3, 2]);
  check("bulk 7", e.bulk(7), 2042);
  check("checksum 256 64", e.checksum(256, 64), 45050);
  check("checksum odd", e.checksum(256, 3), 0xffff ^ (0x0a00 + 0x0000));
  check("collatz 27", e.collatz(27n), 111);
  check("counter", [e.counter(), e.counter(), e.counter()], [1, 2, 3]);
  check("i64ops", e.i64ops(12345n, 678n), 59373729030405n);
  check("compute filter", e.filter(0), 1);
  if (bin) {
    const table = [
      ["fib", ["50"], ["12586269025"]],
      ["fib", ["100"], ["3736710778780434371"]],
      ["fib_rec", ["20"], ["6765"]],
      ["fsum", ["1.5", "2.25"], ["3.75"]],
      ["fpoly", ["2"], ["40.41421356237309"]],
      ["fmix32", ["3"], ["1.25"]],
      ["mem_sum", ["16"], ["1360"]],
      ["dispatch", ["0", "12"], ["13"]],
      ["dispatch", ["1", "12"], ["24"]],
      ["dispatch", ["2", "12"], ["144"]],
      ["dispatch", ["3", "12"], ["-12"]],
      ["sext", ["0x80"], ["-128"]],
      ["sext", ["0x7f"], ["127"]],
      ["sat", ["1e300"], ["2147483647"]],
      ["sat", ["-1e300"], ["-2147483648"]],
      ["sat", ["nan"], ["0"]],
      ["sat", ["-3.9"], ["-3"]],
      ["divmod", ["17", "5"], ["3", "2"]],
      ["bulk", ["7"], ["2042"]],
      ["checksum", ["256", "64"], ["45050"]],
      ["checksum", ["256", "3"], [String(0xffff ^ 0x0a00)]],
      ["collatz", ["27"], ["111"]],
      ["counter", [], ["1"]],
      ["i64ops", ["12345", "678"], ["59373729030405"]],
      ["filter", ["0"], ["1"]],
    ];
    for (const [f, args, want] of table) {
      const r = run("compute.wasm", ["--invoke", f, ...args]);
      check(`runner compute ${f} ${args.join(" ")}`, [r.status, r.results], [0, want]);
    }
    for (const [f, args, msg] of [
      ["dispatch", ["4", "1"], "undefined element"],
      ["divmod", ["1", "0"], "integer divide by zero"],
      ["mem_sum", ["20000"], "out of bounds memory access"],
    ]) {
      const r = run("compute.wasm", ["--invoke", f, ...args]);
      check(`runner compute ${f} ${args.join(" ")} traps`, [r.status, r.logs.some((l) => l.includes(`trap: ${msg}`))], [2, true]);
    }
  }
  for (const [what, f] of [
    ["dispatch 4", () => e.dispatch(4, 1)],
    ["divmod /0", () => e.divmod(1, 0)],
    ["mem_sum past memory", () => e.mem_sum(20000)],
  ]) {
    try {
      f();
      check(`${what} traps`, "no trap", "trap");
    } catch (err) {
      check(`${what} traps`, err instanceof WebAssembly.RuntimeError, true);
    }
  }
}

// ---- traps ----
// file -> [error class on V8, kwasm trap message (kwasm_abi TrapCode::message)]
const traps = {
  "unreachable.wasm": [WebAssembly.RuntimeError, "unreachable"],
  "oob.wasm": [WebAssembly.RuntimeError, "out of bounds memory access"],
  "table_oob.wasm": [WebAssembly.RuntimeError, "out of bounds table access"],
  "null_call.wasm": [WebAssembly.RuntimeError, "uninitialized element"],
  "bad_signature.wasm": [WebAssembly.RuntimeError, "indirect call type mismatch"],
  "undefined_element.wasm": [WebAssembly.RuntimeError, "undefined element"],
  "int_overflow.wasm": [WebAssembly.RuntimeError, "integer overflow"],
  "div_zero.wasm": [WebAssembly.RuntimeError, "integer divide by zero"],
  "bad_conversion.wasm": [WebAssembly.RuntimeError, "invalid conversion to integer"],
  "stack_overflow.wasm": [RangeError, "stack overflow"], // V8: "Maximum call stack size exceeded"
  "host_error.wasm": [HostError, "host function error"],
  "log_oob.wasm": [HostError, "out of bounds memory access"],
  "infinite_loop.wasm": [null, "out of fuel"], // V8 has no fuel
  // Bulk loops: fuel is charged per byte or element touched (abi/src/fuel.rs).
  "fill_loop.wasm": [null, "out of fuel"],
  "copy_loop.wasm": [null, "out of fuel"],
  "table_loop.wasm": [null, "out of fuel"],
  "host_loop.wasm": [null, "out of fuel"],
};
for (const [file, [cls, msg]] of Object.entries(traps)) {
  if (bin) {
    for (const len of ["0", "60"]) {
      // Fuel counts operators, so the deep recursion needs more than the
      // default to reach the runner's 1 MiB-class stack limit first.
      const fuel = file === "stack_overflow.wasm" ? 100000000 : 1000000;
      const r = run(join("traps", file), ["--invoke", "filter", len], { fuel });
      check(`runner ${file} (len ${len}) traps: ${msg}`, [r.status, r.logs.at(-1)?.startsWith(`trap: ${msg}`)], [2, true]);
    }
  }
  if (!cls) continue;
  const g = load(join("traps", file));
  for (const len of [0, 60]) {
    try {
      g.filter(new Uint8Array(len));
      check(`${file} (len ${len}) traps`, "returned", "trapped");
    } catch (err) {
      check(`${file} (len ${len}) traps with ${cls.name}`, `${err.constructor.name}`, cls.name);
    }
  }
}
{
  // host_error: the in-range map_add ran before the trap.
  const g = load("traps/host_error.wasm");
  try { g.filter(); } catch {}
  check("host_error map", g.mapValues(), [[0n, 0n, 0n, 1n]]);
}
if (bin) {
  for (const [file, msg] of [
    ["bad_import.wasm", "import `kwasm`.`log` has type (i64) -> ()"],
    ["unknown_import.wasm", "unknown import `kwasm`.`open`"],
  ]) {
    const r = spawnSync(join(bin, "kwasmc"), ["compile", join(out, "traps", file), "-o", join(tmp, "rejected.kw")], { encoding: "utf8" });
    check(`kwasmc rejects ${file}`, [r.status !== 0, r.stderr.includes(msg)], [true, true]);
  }
}

// ---- accept.wat (the bench's accept-all) ----
{
  const g = load("accept.wasm");
  check("accept filter", [g.filter(new Uint8Array(0)), g.filter(ipv4(UDP, udp(1, 9999)))], [1, 1]);
  if (bin) check("runner accept filter", run("accept.wasm", ["--invoke", "filter", "0"]), { status: 0, results: ["1"], logs: [] });
}

// ---- packet_counter ----
{
  const g = load("packet_counter.wasm");
  const pkts = [
    ipv4(UDP, udp(1, 2, [1, 2, 3])),
    ipv4(UDP, udp(1, 2)),
    ipv4(TCP, tcp(1, 2)),
    ipv6(UDP, udp(1, 2)),
    ipv6(HOPOPT, [ICMPV6, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0]),
    Uint8Array.from([0x12, 0x34]),
    new Uint8Array(0),
  ];
  check("packet_counter verdicts", pkts.map((p) => g.filter(p)), pkts.map(() => 1));
  if (bin) {
    const rs = pkts.map((p) => run("packet_counter.wasm", ["--invoke", "filter", String(p.length)], { packet: p }));
    check("runner packet_counter verdicts", rs.map((r) => [r.status, r.results]), pkts.map(() => [0, ["1"]]));
  }
  const m = g.mapValues();
  check("packet_counter maps", m.map((x) => x.length), [256, 256, 3]);
  check("packet_counter packets", [m[0][UDP], m[0][TCP], m[0][ICMPV6]], [3n, 1n, 1n]);
  const len = (i) => BigInt(pkts[i].length);
  check("packet_counter bytes", [m[1][UDP], m[1][TCP], m[1][ICMPV6]], [len(0) + len(1) + len(3), len(2), len(4)]);
  check("packet_counter families", m[2], [3n, 2n, 2n]);
}

// ---- port_filter, and its twins in C, Zig and AssemblyScript (guests/c, guests/zig, guests/as) ----
for (const prog of ["port_filter", "c_port_filter", "zig_port_filter", "as_port_filter"]) {
  const g = load(`${prog}.wasm`);
  const cases = [
    ["empty", new Uint8Array(0), 1],
    ["v4 udp 9999", ipv4(UDP, udp(5000, 9999, [1])), 0],
    ["v4 udp 9998", ipv4(UDP, udp(5000, 9998)), 1],
    ["v4 udp from 9999", ipv4(UDP, udp(9999, 53)), 1],
    ["v4 tcp 9999", ipv4(TCP, tcp(5000, 9999)), 1],
    ["v4 first fragment 9999", ipv4(UDP, udp(1, 9999), { frag: 0x2000 }), 0],
    ["v4 later fragment", ipv4(UDP, udp(1, 9999), { frag: 0x0010 }), 1],
    ["v6 udp 9999", ipv6(UDP, udp(1, 9999)), 0],
    ["v6 hop-by-hop + udp 9999", ipv6(HOPOPT, [UDP, 0, 0, 0, 0, 0, 0, 0, ...udp(1, 9999)]), 0],
    ["v6 fragment(first) + udp 9999", ipv6(FRAG, [UDP, 0, 0, 1, 0, 0, 0, 1, ...udp(1, 9999)]), 0],
    ["v6 tcp 9999", ipv6(TCP, tcp(1, 9999)), 1],
    ["truncated v4 udp", ipv4(UDP, udp(1, 9999)).subarray(0, 22), 1],
  ];
  for (const [what, p, want] of cases) {
    check(`${prog} ${what}`, g.filter(p), want);
    if (bin) {
      const r = run(`${prog}.wasm`, ["--invoke", "filter", String(p.length)], { packet: p });
      check(`runner ${prog} ${what}`, [r.status, r.results], [0, [String(want)]]);
    }
  }
  const dropped = BigInt(cases.filter((c) => c[2] === 0).length);
  check(`${prog} counters`, g.mapValues(), [[BigInt(cases.length) - dropped, dropped]]);
}

// ---- dns_parser ----
{
  const g = load("dns_parser.wasm");
  // The bench twin: the same verdicts and maps, no logs.
  const twin = load("dns_filter.wasm");
  const q = (name, qtype, v6 = false) => (v6 ? ipv6 : ipv4)(UDP, udp(40000, 53, dnsQuery(name, qtype)));
  const cases = [
    ["empty", new Uint8Array(0), 1, null],
    ["www.example.com A", q("www.example.com", 1), 1, "dns: query www.example.com A from 192.0.2.1"],
    ["v6 AAAA", q("Example.ORG", 28, true), 1, "dns: query Example.ORG AAAA from 2001:db8::1"],
    ["blocked.test", q("blocked.test", 1), 0, "dns: DROP blocked.test A from 192.0.2.1"],
    ["x.y.BLOCKED.test HTTPS", q("x.y.BLOCKED.test", 65), 0, "dns: DROP x.y.BLOCKED.test HTTPS from 192.0.2.1"],
    ["notblocked.test", q("notblocked.test", 16), 1, "dns: query notblocked.test TXT from 192.0.2.1"],
    ["v6 blocked", q("a.blocked.test", 999, true), 0, "dns: DROP a.blocked.test TYPE999 from 2001:db8::1"],
    ["root", q(".", 2), 1, "dns: query . NS from 192.0.2.1"],
    ["response", ipv4(UDP, udp(53, 40000, [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, ...dnsName("blocked.test"), 0, 1, 0, 1])), 1, null],
    ["response to port 53", ipv4(UDP, udp(53, 53, [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, ...dnsName("blocked.test"), 0, 1, 0, 1])), 1, "dns: malformed query from 192.0.2.1: not a query"],
    ["truncated", ipv4(UDP, udp(1, 53, dnsQuery("blocked.test").slice(0, 20))), 1, "dns: malformed query from 192.0.2.1: truncated"],
    ["compressed", ipv4(UDP, udp(1, 53, [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1])), 0, "dns: malformed query from 192.0.2.1: compression pointer in question"],
    ["tcp 53", ipv4(TCP, tcp(1, 53)), 1, null],
    ["escaped label", ipv4(UDP, udp(1, 53, [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 0x61, 0x2e, 0x00, 4, ...Buffer.from("test"), 0, 0, 1, 0, 1])), 1, "dns: query a\\.\\000.test A from 192.0.2.1"],
  ];
  for (const [what, p, want, log] of cases) {
    g.logs = [];
    check(`dns_parser ${what}`, g.filter(p), want);
    check(`dns_parser ${what} log`, g.logs, log === null ? [] : [log]);
    twin.logs = [];
    check(`dns_filter (bench twin) ${what}`, [twin.filter(p), twin.logs], [want, []]);
    if (bin) {
      const r = run("dns_parser.wasm", ["--invoke", "filter", String(p.length)], { packet: p });
      check(`runner dns_parser ${what}`, r, { status: 0, results: [String(want)], logs: log === null ? [] : [log] });
      const t = run("dns_filter.wasm", ["--invoke", "filter", String(p.length)], { packet: p });
      check(`runner dns_filter (bench twin) ${what}`, t, { status: 0, results: [String(want)], logs: [] });
    }
  }
  const m = g.mapValues();
  check("dns_filter (bench twin) maps equal dns_parser's first two", twin.mapValues(), m.slice(0, 2));
  // [queries, blocked, malformed, other]
  check("dns_parser counters", m[0], [8n, 4n, 3n, 3n]);
  check("dns_parser per qtype", [m[1][1], m[1][28], m[1][65], m[1][16], m[1][2], m[1][0]], [3n, 1n, 1n, 1n, 1n, 1n]);
  // Per name: lowercased, zero-padded to 64 bytes; values are u64 counts.
  const nameKey = (n) => Buffer.concat([Buffer.from(n), Buffer.alloc(64 - n.length)]).toString("hex");
  const count = (n) => Buffer.from(m[2][nameKey(n)] ?? "", "hex").readBigUInt64LE?.(0);
  check("dns_parser per name: 8 names", Object.keys(m[2]).length, 8);
  check("dns_parser per name", ["www.example.com", "example.org", "blocked.test", "x.y.blocked.test", "a\\.\\000.test"].map((n) => count(n)), [1n, 1n, 1n, 1n, 1n]);
  // Blocked queries, as text records, in order.
  check("dns_parser blocked events", m[3].records.map((r) => Buffer.from(r).toString()), [
    "blocked.test A from 192.0.2.1",
    "x.y.BLOCKED.test HTTPS from 192.0.2.1",
    "a.blocked.test TYPE999 from 2001:db8::1",
  ]);
  // A name too long to log in full is truncated, not dropped or trapped.
  g.logs = [];
  const long = Array.from({ length: 4 }, () => "a".repeat(63)).join(".").slice(0, 253);
  check("dns_parser long name", g.filter(q(long, 1)), 1);
  check("dns_parser long name log truncated", g.logs.length === 1 && g.logs[0].endsWith("...") && g.logs[0].length === 200, true);

  // The C twin (guests/c/examples/dns_counter.c): on the same packets, the
  // same verdicts, log lines, and all four maps, per-name keys and ring
  // records included.
  const c = load("c_dns_counter.wasm");
  for (const [what, p, want, log] of cases) {
    c.logs = [];
    check(`c_dns_counter ${what}`, [c.filter(p), c.logs], [want, log === null ? [] : [log]]);
    if (bin) {
      const r = run("c_dns_counter.wasm", ["--invoke", "filter", String(p.length)], { packet: p });
      check(`runner c_dns_counter ${what}`, r, { status: 0, results: [String(want)], logs: log === null ? [] : [log] });
    }
  }
  c.logs = [];
  c.filter(q(long, 1));
  check("c_dns_counter long name: the same truncated line", c.logs, g.logs);
  const cm = c.mapValues();
  check("c_dns_counter maps equal dns_parser's", [cm[0], cm[1], cm[2], cm[3].records.map((r) => Buffer.from(r).toString())],
    [g.mapValues()[0], g.mapValues()[1], g.mapValues()[2], g.mapValues()[3].records.map((r) => Buffer.from(r).toString())]);
}

// ---- flow_counter ----
{
  const g = load("flow_counter.wasm");
  const v4 = ipv4(UDP, udp(1, 53, [1, 2, 3]));
  for (let i = 0; i < 3; i++) check(`flow_counter v4 ${i}`, g.filter(v4), 1);
  check("flow_counter v6", g.filter(ipv6(TCP, tcp(1, 80))), 1);
  check("flow_counter not ip", g.filter(new Uint8Array([0x10, 0])), 1);
  const m = g.mapValues();
  const mapped = (a) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a];
  const key = (src, dst, proto) => Buffer.from([...src, ...dst, proto, 0, 0, 0]).toString("hex");
  const words = (h) => [0, 1].map((i) => Buffer.from(h, "hex").readBigUInt64LE(8 * i));
  const v6a = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const v6b = [...v6a.slice(0, 15), 2];
  check("flow_counter flows", Object.keys(m[0]).length, 2);
  check("flow_counter v4 flow", words(m[0][key(mapped([192, 0, 2, 1]), mapped([192, 0, 2, 2]), UDP)]), [3n, BigInt(3 * v4.length)]);
  check("flow_counter v6 flow", words(m[0][key(v6a, v6b, TCP)]), [1n, 60n]);
  check("flow_counter [not_ip, untracked]", m[1], [1n, 0n]);
}

// ---- hash.wat and events.wat: hash maps and ring buffers ----
{
  const g = load("hash.wasm");
  const x = g.instance.exports;
  const p = ipv4(UDP, udp(1, 53, [1, 2, 3, 4]));
  for (let i = 0; i < 3; i++) g.filter(p);
  check("hash.wat counts per port", [x.get(53), x.bytes(53)], [3n, BigInt(3 * p.length)]);
  check("hash.wat flags", [x.put(7, 70, 1), x.put(7, 71, 1), x.put(8, 1, 2), x.put(8, 80, 0), x.put(9, 90, 0), x.put(10, 1, 0), x.put(8, 1, 9)], [0, -17, -2, 0, 0, -7, -22]);
  check("hash.wat delete", [x.del(8), x.del(8), x.get(8)], [0, -2, -2n]);
  check("hash.wat no map", x.nomap(), -22);
  let trapped = false;
  try { x.oob(); } catch (e) { trapped = e instanceof HostError; }
  check("hash.wat out of memory range traps", trapped, true);
  if (bin) check("runner hash.wat nomap", run("hash.wasm", ["--invoke", "nomap"]).results, ["-22"]);

  const e = load("events.wasm");
  const y = e.instance.exports;
  e.filter(ipv4(UDP, udp(1, 9, Buffer.from("hello"))));
  check("events.wat emit", y.emit(5), 0);
  check("events.wat records", e.drain(0).map((r) => Buffer.from(r).toString()), ["hello", "event"]);
  let stored = 0;
  for (let i = 0; i < 200; i++) if (y.emit(8) === 0) stored++;
  check("events.wat a full ring drops", [stored, e.mapValues()[0].dropped], [170, 30]);
  check("events.wat too large / not a ring", [y.emit(5000), y.notring()], [-7, -22]);
  if (bin) check("runner events.wat notring", run("events.wasm", ["--invoke", "notring"]).results, ["-22"]);
}

// ---- toolchain output kwasm refuses (bad/README.md) ----
// `kwasm load` checks a module before it opens /dev/kwasm: each of these
// exits 1 with what to change, on any machine.
if (bin) {
  const cases = [
    ["wasi_hello.wasm", ["kwasm programs have no WASI", "-target wasm32-freestanding"]],
    ["simd.wasm", ["unsupported feature: SIMD", "drop `-msimd128`"]],
    ["threads.wasm", ["kwasm programs are single-threaded", "--shared-memory"]],
    ["no_filter.wasm", ["cannot attach: the program has no `filter` export"]],
    ["as_abort.wasm", ["imports `env`.`abort`", "asc --use abort="]],
  ];
  for (const [file, wants] of cases) {
    const r = spawnSync(join(bin, "kwasm"), ["load", join(out, "bad", file), "--attach", "ipv4:input"], { encoding: "utf8" });
    check(`refused ${file}: exit 1`, r.status, 1);
    for (const w of wants) check(`refused ${file}: says ${w}`, r.stderr.includes(w), true);
  }
}

// ---- bench/c/filters.h against the kwasm programs (differential) ----
// The eBPF and native versions of the bench filters share filters.h, which
// must give the kwasm programs' verdicts and map updates on every packet.
// Compile it for the host (bench/c/hostcheck.c) and run both on the same
// packets: hand-made ones, then seeded random mutations of them.
{
  const cc = spawnSync("cc", ["--version"]);
  if (cc.status !== 0) {
    console.log("SKIP filters.h differential: no C compiler (cc)");
  } else {
    const dir = mkdtempSync(join(tmpdir(), "kwasm-hostcheck-"));
    const exe = join(dir, "hostcheck");
    const here = new URL("../bench/c/", import.meta.url).pathname;
    const build = spawnSync("cc", ["-O1", "-Wall", "-Wextra", "-Werror", "-o", exe, join(here, "hostcheck.c")], { encoding: "utf8" });
    check("hostcheck.c builds", [build.status, build.stderr], [0, ""]);
    // SplitMix64-ish generator from a fixed seed: the same packets every run.
    let state = 0x6b7761736dn;
    const rnd = (n) => {
      state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
      let z = state;
      z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
      z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
      return Number((z ^ (z >> 31n)) % BigInt(n));
    };
    const pick = (a) => a[rnd(a.length)];
    const ext = (nh, len8) => [nh, len8, ...new Array(len8 * 8 + 6).fill(1)];
    const label = (n, c = "a") => c.repeat(n);
    const names = ["blocked.test", "x.blocked.test", "a.b.BLOCKED.TeSt", "blocked.test.", "notblocked.test", "blocked.tes", "test", ".",
      "example.com", [label(63), label(63, "b"), label(63, "c"), label(61, "d")].join("."), [label(63), label(63), label(63), label(62)].join("."),
      Array.from({ length: 126 }, () => "x").join(".") + ".blocked.test"];
    const seeds = [
      ipv4(UDP, udp(1, 9999, [1, 2, 3])), ipv4(UDP, udp(1, 53)), ipv4(TCP, tcp(1, 9999)), ipv4(UDP, udp(1, 9999), { frag: 0x2000 }),
      ipv4(UDP, udp(1, 9999), { frag: 0x0003 }),
      ipv6(UDP, udp(1, 9999)), ipv6(HOPOPT, [UDP, 0, 0, 0, 0, 0, 0, 0, ...udp(1, 9999)]),
      ipv6(HOPOPT, [...ext(60, 1), ...ext(43, 0), ...ext(FRAG, 0).slice(0, 2), 0, 0, 0, 0, 0, 0, ...udp(2, 53, dnsQuery("blocked.test"))]),
      ipv6(51, [UDP, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ...udp(1, 9999)]),
      ipv6(FRAG, [UDP, 0, 0, 8, 0, 0, 0, 1, ...udp(1, 9999)]), ipv6(50, [1, 2, 3, 4]), ipv6(59, []),
      // Around the walk's limit of 8 extension headers.
      ...[6, 7, 8, 9].map((n) => ipv6(HOPOPT, [...Array.from({ length: n }, (_, i) => [i + 1 < n ? HOPOPT : UDP, 0, 0, 0, 0, 0, 0, 0]).flat(), ...udp(1, 9999)])),
      ...names.map((n) => ipv4(UDP, udp(40000, 53, dnsQuery(n, pick([1, 28, 255, 256, 999]))))),
      ...names.map((n) => ipv6(HOPOPT, [UDP, 0, 0, 0, 0, 0, 0, 0, ...udp(40000, 53, dnsQuery(n, 65))])),
      ipv4(UDP, udp(1, 53, [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1])),
      ipv4(UDP, udp(1, 53, [0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40, 0x0c, 0, 1, 0, 1])),
      ipv4(UDP, udp(1, 53, [0, 1, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1])),
      Uint8Array.from([0x46, 0, 0, 40, 0, 0, 0, 0, 64, UDP, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 1, 0, ...udp(1, 9999, [9, 9, 9, 9, 9, 9, 9, 9])]),
      new Uint8Array(0), Uint8Array.from([0x45]), Uint8Array.from([0x60, 0, 0, 0]),
    ];
    const interesting = [0, 1, 0xff, 0x3f, 0x40, 0x80, 0xc0, 0x45, 0x4f, 0x60, 53, 0x27, 0x0f, 6, 17, 44, 43, 51, 50, 59, 60, 7, 4, 8];
    const mutate = (p) => {
      const q = Array.from(p);
      for (let k = 1 + rnd(3); k > 0; k--) {
        switch (rnd(6)) {
          case 0: if (q.length) q[rnd(Math.min(q.length, 80))] = rnd(256); break;
          case 1: if (q.length) q[rnd(Math.min(q.length, 80))] = pick(interesting); break;
          case 2: q.length = rnd(q.length + 1); break;
          case 3: for (let i = rnd(40); i > 0; i--) q.push(rnd(256)); break;
          case 4: for (let i = 300 + rnd(400); i > 0; i--) q.push(pick(interesting)); break;
          default: if (q.length > 3) q[2 + rnd(2)] = pick([0, 0, 20, 28, 40, 255]); break;
        }
      }
      return Uint8Array.from(q);
    };
    const packets = [...seeds];
    for (let i = 0; i < 20000; i++) packets.push(mutate(pick(seeds)));
    const progs = ["port_filter.wasm", "packet_counter.wasm", "dns_filter.wasm"].map(load);
    const want = packets.map((p) => progs.map((g) => g.filter(p)).join(" "));
    const input = Buffer.concat(packets.map((p) => Buffer.concat([Buffer.from([p.length & 0xff, p.length >> 8]), Buffer.from(p)])));
    const r = spawnSync(exe, [], { input, encoding: "utf8", maxBuffer: 1 << 26 });
    check("hostcheck runs", [r.status, r.stderr], [0, ""]);
    const lines = r.stdout.split("\n");
    const got = lines.slice(0, packets.length);
    const bad = want.findIndex((w, i) => w !== got[i]);
    check(`filters.h verdicts equal the kwasm programs' on ${packets.length} packets`,
      bad < 0 ? null : { packet: Buffer.from(packets[bad]).toString("hex"), kwasm: want[bad], c: got[bad] }, null);
    const maps = lines.slice(packets.length).filter((l) => l);
    const wantMaps = [["port_filter", progs[0]], ["packet_counter", progs[1]], ["dns", progs[2]]]
      .flatMap(([n, g]) => g.mapValues().map((m, i) => `${n} ${i}: ${m.join(" ")}`));
    check("filters.h maps equal the kwasm programs'", maps, wantMaps);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (tmp) rmSync(tmp, { recursive: true, force: true });
console.log(`${passes} passed, ${failures} failed${bin ? " (V8 and kwasm run)" : " (V8 only; pass --bin DIR to also use kwasmc/kwasm run)"}`);
process.exit(failures ? 1 : 0);
