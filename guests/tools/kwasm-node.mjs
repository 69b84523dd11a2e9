// kwasm-node.mjs: a tiny reference host for kwasm guest programs on Node.js
// (V8's WebAssembly), for testing guests without kwasmc or the kernel. It
// implements the host API of kwasm_abi::host (module `kwasm`, plus the
// `env._debug` alias) with a settable "current packet" and the maps declared
// by the program's `kwasm.maps` custom section (both record forms). It has no fuel and V8's own
// stack limit, so it is not a model of kwasm's resource limits.
//
// CLI:  node kwasm-node.mjs prog.wasm [--packet HEX] [--maps] [--invoke NAME] [ARGS...]
//       (default: --invoke filter with the packet length as argument)
// Library: import { Guest } from "./kwasm-node.mjs".

import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export class HostError extends Error {}

export class Guest {
  constructor(bytes) {
    this.module = new WebAssembly.Module(bytes);
    this.packet = new Uint8Array(0);
    this.logs = [];
    this.echo = false;
    const sections = WebAssembly.Module.customSections(this.module, "kwasm.maps");
    this.maps = [];
    // Records of kwasm_abi::maps: v1, a u32 entry count; v2, four u32
    // (DECL_TAG | kind, key size, value size, entries). This host is one
    // CPU, so a per_cpu_array has one copy, like an array.
    const DECL_TAG = 0x4b4d0000;
    for (const s of sections) {
      const v = new DataView(s);
      for (let i = 0; i + 4 <= s.byteLength; ) {
        const first = v.getUint32(i, true);
        if ((first & 0xffff0000) >>> 0 === DECL_TAG) {
          this.maps.push(new BigUint64Array(v.getUint32(i + 12, true)));
          i += 16;
        } else {
          this.maps.push(new BigUint64Array(first));
          i += 4;
        }
      }
    }
    const mem = () => {
      const m = this.instance.exports.memory;
      if (!m) throw new HostError("no exported memory");
      return new Uint8Array(m.buffer);
    };
    const range = (ptr, len) => {
      const m = mem();
      ptr >>>= 0;
      len >>>= 0;
      if (ptr + len > m.length) throw new HostError("out of bounds memory access");
      return m.subarray(ptr, ptr + len);
    };
    const slot = (map, idx) => {
      const m = this.maps[map >>> 0];
      if (!m || idx >>> 0 >= m.length) throw new HostError(`map ${map >>> 0}[${idx >>> 0}] out of range`);
      return [m, idx >>> 0];
    };
    const log = (ptr, len) => {
      const text = new TextDecoder().decode(range(ptr, len));
      this.logs.push(text);
      if (this.echo) console.error(text);
    };
    const kwasm = {
      log,
      pkt_len: () => this.packet.length,
      pkt_load: (off, dst, len) => {
        const d = range(dst, len);
        off >>>= 0;
        if (off >= this.packet.length) return 0;
        const src = this.packet.subarray(off, off + d.length);
        d.set(src);
        return src.length;
      },
      time_ns: () => process.hrtime.bigint(),
      map_get: (map, idx) => {
        const [m, i] = slot(map, idx);
        return BigInt.asIntN(64, m[i]);
      },
      map_set: (map, idx, v) => {
        const [m, i] = slot(map, idx);
        m[i] = BigInt.asUintN(64, v);
      },
      map_add: (map, idx, delta) => {
        const [m, i] = slot(map, idx);
        m[i] = BigInt.asUintN(64, m[i] + delta);
        return BigInt.asIntN(64, m[i]);
      },
      random_u32: () => (Math.random() * 2 ** 32) | 0,
    };
    this.instance = new WebAssembly.Instance(this.module, {
      kwasm,
      env: { _debug: log },
    });
  }

  /// Calls `filter` with `packet` as the current packet.
  filter(packet = new Uint8Array(0)) {
    this.packet = packet;
    return this.instance.exports.filter(packet.length);
  }

  /// Map contents as arrays of BigInt.
  mapValues() {
    return this.maps.map((m) => Array.from(m));
  }
}

function parseArg(s) {
  if (/^-?\d+$/.test(s) || /^0x[0-9a-f]+$/i.test(s)) {
    const n = BigInt(s);
    return n;
  }
  return Number(s);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  if (args.length === 0) {
    console.error("usage: node kwasm-node.mjs prog.wasm [--packet HEX] [--maps] [--invoke NAME] [ARGS...]");
    process.exit(2);
  }
  const g = new Guest(readFileSync(args.shift()));
  g.echo = true;
  let name = "filter";
  let showMaps = false;
  const rest = [];
  while (args.length) {
    const a = args.shift();
    if (a === "--packet") g.packet = Uint8Array.from(Buffer.from(args.shift(), "hex"));
    else if (a === "--invoke") name = args.shift();
    else if (a === "--maps") showMaps = true;
    else rest.push(a);
  }
  const f = g.instance.exports[name];
  if (typeof f !== "function") {
    console.error(`no exported function ${name}`);
    process.exit(2);
  }
  // Coerce arguments to the function's arity: BigInt where i64 is expected is
  // not knowable from JS, so try Number first and BigInt on TypeError.
  let callArgs = rest.length || name !== "filter" ? rest.map(parseArg) : [g.packet.length];
  let result;
  try {
    try {
      result = f(...callArgs.map((x) => (typeof x === "bigint" ? Number(x) : x)));
    } catch (e) {
      if (!(e instanceof TypeError)) throw e;
      result = f(...callArgs.map((x) => (typeof x === "bigint" ? x : BigInt(Math.trunc(x)))));
    }
  } catch (e) {
    console.log(`trap: ${e.message}`);
    process.exit(1);
  }
  console.log(Array.isArray(result) ? result.join(" ") : String(result));
  if (showMaps) console.log(JSON.stringify(g.mapValues(), (_, v) => (typeof v === "bigint" ? v.toString() : v)));
}
