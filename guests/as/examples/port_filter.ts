// port_filter.ts: drops UDP datagrams to destination port 9999 (IPv4 and
// IPv6, through IPv6 extension headers), accepts everything else: the
// AssemblyScript twin of guests/examples/port_filter (Rust), with the same
// map. AssemblyScript cannot write custom sections: the build appends the
// maps of the `kwasm-maps:` line below (`kwasmc add-maps`).
//
// Map 0, 2 entries: [accepted, dropped].
// kwasm-maps: array:2
import { ACCEPT, DROP, Ip, PROTO_UDP, loadPacket, mapAdd } from "../kwasm";

const COUNTERS: i32 = 0;
const ACCEPTED: u32 = 0;
const DROPPED: u32 = 1;
const BLOCKED_PORT: i32 = 9999;

// The IPv6 header, a few extension headers and the UDP ports.
const BUF: usize = memory.data(128);

function verdict(n: u32): i32 {
  const ip = new Ip();
  if (!ip.parse(BUF, n) || ip.proto != PROTO_UDP) return ACCEPT;
  return ip.dstPort(BUF) == BLOCKED_PORT ? DROP : ACCEPT;
}

export function filter(len: i32): i32 {
  const v = verdict(loadPacket(0, BUF, 128));
  mapAdd(COUNTERS, v == DROP ? DROPPED : ACCEPTED, 1);
  return v;
}
