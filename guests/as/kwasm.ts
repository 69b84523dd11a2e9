// kwasm.ts: the AssemblyScript SDK for kwasm programs. The host functions
// and constants are abi's (kwasm_abi.ts, generated); this file adds typed
// helpers and header parsing. A program builds with
//
//   npx asc prog.ts --outFile prog.wasm --optimize --runtime stub --use abort=
//   kwasmc add-maps prog.wasm --map array:2     (AssemblyScript cannot
//                                                write custom sections)
//
// and exports `filter(len: i32): i32`.
import * as abi from "./kwasm_abi";
export { abi };

export const DROP: i32 = abi.VERDICT_DROP;
export const ACCEPT: i32 = abi.VERDICT_ACCEPT;

/// Copies up to `len` packet bytes from `off` to `dst`; returns how many.
export function loadPacket(off: u32, dst: usize, len: u32): u32 {
  return <u32>abi.pkt_load(<i32>off, <i32>dst, <i32>len);
}

/// Adds `delta` to entry `idx` of array map `map`; traps if out of range.
export function mapAdd(map: i32, idx: u32, delta: u64): u64 {
  return <u64>abi.map_add(map, <i32>idx, <i64>delta);
}

/// Writes the UTF-8 bytes of `msg` to the program's log.
export function log(msg: string): void {
  const b = String.UTF8.encode(msg);
  abi.log(<i32>changetype<usize>(b), b.byteLength);
}

export const PROTO_UDP: u8 = 17;

function be16(b: usize, off: u32): u32 {
  return (<u32>load<u8>(b + off) << 8) | load<u8>(b + off + 1);
}

/// The IP header of the packet copy b[0..n) (the Rust SDK's rules,
/// net.rs): `proto` after IPv6 extension headers, `l4` the transport
/// offset (-1 when not in the packet), `end` the datagram's end. Returns
/// false when it is not IP.
export class Ip {
  proto: u8 = 0;
  l4: i32 = -1;
  end: u32 = 0;

  parse(b: usize, n: u32): bool {
    if (n < 1) return false;
    const v = load<u8>(b) >> 4;
    if (v == 4 && n >= 20) {
      const hl: u32 = <u32>(load<u8>(b) & 0xf) * 4;
      if (hl < 20 || n < hl) return false;
      const tl = be16(b, 2);
      this.end = tl == 0 ? n : min(tl, n);
      if (this.end < hl) this.end = hl;
      this.proto = load<u8>(b + 9);
      this.l4 = (be16(b, 6) & 0x1fff) != 0 ? -1 : <i32>hl;
      return true;
    }
    if (v != 6 || n < 40) return false;
    const pl = be16(b, 4);
    this.end = pl == 0 ? n : min(40 + pl, n);
    this.l4 = -1;
    let nh = load<u8>(b + 6);
    let off: u32 = 40;
    for (let i = 0; i < 8; i++) {
      let len: u32 = 0;
      if (nh == 0 || nh == 43 || nh == 60) {
        if (off + 1 >= this.end) break;
        len = (<u32>load<u8>(b + off + 1) + 1) * 8;
      } else if (nh == 51) {
        if (off + 1 >= this.end) break;
        len = (<u32>load<u8>(b + off + 1) + 2) * 4;
      } else if (nh == 44) {
        if (off + 3 >= this.end) break;
        if (be16(b, off + 2) >> 3 != 0) {
          this.proto = load<u8>(b + off);
          return true;
        }
        len = 8;
      } else if (nh == 50 || nh == 59) {
        break;
      } else {
        this.proto = nh;
        this.l4 = <i32>off;
        return true;
      }
      if (off + len > this.end) break;
      nh = load<u8>(b + off);
      off += len;
    }
    this.proto = nh;
    return true;
  }

  /// The UDP or TCP destination port, or -1 when it is not in the packet.
  dstPort(b: usize): i32 {
    if (this.l4 < 0 || <u32>this.l4 + 4 > this.end) return -1;
    return <i32>be16(b, <u32>this.l4 + 2);
  }
}
