// {{name}}: a kwasm program in AssemblyScript. It drops UDP datagrams to
// port 7777, logs each one it drops, and counts [accepted, dropped] in
// map 0 (declared by the Makefile: AssemblyScript cannot write the custom
// section itself).
//
//   npm install && make                         # builds {{name}}.wasm
//   kwasm load {{name}}.wasm --attach ipv4:input
//   kwasm map dump {{name}} 0; kwasm log {{name}}
import { ACCEPT, DROP, Ip, PROTO_UDP, loadPacket, log, mapAdd } from "./kwasm";

const COUNTERS: i32 = 0;
const ACCEPTED: u32 = 0;
const DROPPED: u32 = 1;
const BLOCKED_PORT: i32 = 7777;
const BUF: usize = memory.data(128);

export function filter(len: i32): i32 {
  const n = loadPacket(0, BUF, 128);
  const ip = new Ip();
  if (ip.parse(BUF, n) && ip.proto == PROTO_UDP && ip.dstPort(BUF) == BLOCKED_PORT) {
    log("{{name}}: dropped a datagram to port 7777");
    mapAdd(COUNTERS, DROPPED, 1);
    return DROP;
  }
  mapAdd(COUNTERS, ACCEPTED, 1);
  return ACCEPT;
}
