// kwasm-node.mjs: a tiny reference host for kwasm guest programs on Node.js
// (V8's WebAssembly), for testing guests without kwasmc or the kernel. It
// implements the host API of kwasm_abi::host (module `kwasm`, plus the
// `env._debug` alias) with a settable "current packet" and the maps declared
// by the program's `kwasm.maps` custom section (both record forms; arrays,
// per-CPU arrays, hash maps and ring buffers, with the statuses of
// kwasm_abi::maps::MapStatus). It has no fuel and V8's own stack limit, so it
// is not a model of kwasm's resource limits.
//
// CLI:  node kwasm-node.mjs prog.wasm [--packet HEX] [--maps] [--invoke NAME] [ARGS...]
//       (default: --invoke filter with the packet length as argument)
// Library: import { Guest } from "./kwasm-node.mjs".

import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export class HostError extends Error {}

// kwasm_abi::maps::MapKind and MapStatus, and ring::MAX_RECORD.
const HASH = 2;
const RING_BUF = 3;
const NOT_FOUND = -2;
const FULL = -7;
const EXISTS = -17;
const INVALID = -22;
const MAX_RECORD = 4096;

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
          const [kind, keySize, valueSize, entries] = [first & 0xffff, ...[4, 8, 12].map((o) => v.getUint32(i + o, true))];
          if (kind === HASH) this.maps.push({ kind, keySize, valueSize, entries, data: new Map() });
          else if (kind === RING_BUF) this.maps.push({ kind, bytes: entries, used: 0, dropped: 0, records: [] });
          else this.maps.push(new BigUint64Array(entries));
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
      if (!(m instanceof BigUint64Array) || idx >>> 0 >= m.length) throw new HostError(`map ${map >>> 0}[${idx >>> 0}] out of range`);
      return [m, idx >>> 0];
    };
    const hex = (b) => Buffer.from(b).toString("hex");
    const word = (b, i) => new DataView(b.buffer, b.byteOffset).getBigUint64(8 * i, true);
    // Element operations (kwasm_abi::host): statuses, never traps, but for
    // ranges outside memory. An array's key is a u32 index, its value a u64.
    const elem = (map, keyPtr, f) => {
      const m = this.maps[map >>> 0];
      if (!m || (m.kind === RING_BUF)) return INVALID;
      const keySize = m instanceof BigUint64Array ? 4 : m.keySize;
      const valueSize = m instanceof BigUint64Array ? 8 : m.valueSize;
      return f(m, Uint8Array.from(range(keyPtr, keySize)), (p) => range(p, valueSize));
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
      map_lookup: (map, key, val) =>
        elem(map, key, (m, k, value) => {
          const out = value(val);
          if (m instanceof BigUint64Array) {
            const i = new DataView(k.buffer).getUint32(0, true);
            if (i >= m.length) return NOT_FOUND;
            new DataView(out.buffer, out.byteOffset).setBigUint64(0, m[i], true);
            return 0;
          }
          const v = m.data.get(hex(k));
          if (!v) return NOT_FOUND;
          out.set(v);
          return 0;
        }),
      map_update: (map, key, val, flags) =>
        elem(map, key, (m, k, value) => {
          const v = Uint8Array.from(value(val));
          if (![0, 1, 2, 4].includes(flags)) return INVALID;
          if (m instanceof BigUint64Array) {
            const i = new DataView(k.buffer).getUint32(0, true);
            if (i >= m.length) return NOT_FOUND;
            if (flags === 1) return EXISTS;
            m[i] = flags === 4 ? BigInt.asUintN(64, m[i] + word(v, 0)) : word(v, 0);
            return 0;
          }
          const h = hex(k);
          const old = m.data.get(h);
          if (flags === 1 && old) return EXISTS;
          if (flags === 2 && !old) return NOT_FOUND;
          if (flags === 4 && m.valueSize % 8 !== 0) return INVALID;
          if (!old && m.data.size >= m.entries) return FULL;
          if (flags === 4 && old) {
            const dv = new DataView(old.buffer);
            for (let i = 0; i < m.valueSize / 8; i++) dv.setBigUint64(8 * i, BigInt.asUintN(64, word(old, i) + word(v, i)), true);
          } else m.data.set(h, v);
          return 0;
        }),
      map_delete: (map, key) =>
        elem(map, key, (m, k) => {
          if (m instanceof BigUint64Array) return INVALID;
          return m.data.delete(hex(k)) ? 0 : NOT_FOUND;
        }),
      event_output: (map, ptr, len) => {
        const m = this.maps[map >>> 0];
        if (!m || m.kind !== RING_BUF) return INVALID;
        const data = Uint8Array.from(range(ptr, len));
        const size = 16 + Math.ceil(data.length / 8) * 8;
        if (data.length > MAX_RECORD || m.used + size > m.bytes) {
          m.dropped++;
          return FULL;
        }
        m.used += size;
        m.records.push(data);
        return 0;
      },
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

  /// Map contents: arrays of BigInt for arrays; for a hash map an object of
  /// hex key to hex value, keys sorted; for a ring buffer its records not
  /// yet drained (Uint8Array) and its drop count.
  mapValues() {
    return this.maps.map((m) => {
      if (m instanceof BigUint64Array) return Array.from(m);
      if (m.kind === HASH) return Object.fromEntries([...m.data].map(([k, v]) => [k, Buffer.from(v).toString("hex")]).sort());
      return { records: m.records.slice(), dropped: m.dropped };
    });
  }

  /// Drains ring buffer `map`: its records, oldest first.
  drain(map) {
    const m = this.maps[map];
    const r = m.records;
    m.records = [];
    m.used = 0;
    return r;
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
