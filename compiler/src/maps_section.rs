//! Appending a `kwasm.maps` section to a module, for toolchains that cannot
//! write custom sections themselves (AssemblyScript): `kwasmc add-maps
//! prog.wasm --map hash:4:16:1024 --map ring_buf:65536`. The records are
//! abi's v2 declarations ([`kwasm_abi::maps::MapDecl::encode`]), checked
//! as kwasmc checks a section, and appended after any maps the module
//! declares already.

use kwasm_abi::maps::{DECL_LEN, MAPS_SECTION, MapDecl, MapKind};

/// Parses `kind:N` (`array`, `per_cpu_array`: entries; `ring_buf`: bytes)
/// or `hash:KEY:VALUE:N`, and checks it as map number `index`.
pub fn parse_spec(spec: &str, index: u32) -> Result<MapDecl, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let num = |s: &str| {
        s.parse::<u32>()
            .map_err(|_| format!("map {index} `{spec}`: `{s}` is not a number"))
    };
    let kind = MapKind::from_name(parts[0]).ok_or_else(|| {
        let names: Vec<&str> = MapKind::ALL.iter().map(|k| k.name()).collect();
        format!(
            "map {index} `{spec}`: unknown kind `{}` (one of {})",
            parts[0],
            names.join(", ")
        )
    })?;
    let decl = match (kind, &parts[1..]) {
        (MapKind::Hash, [k, v, n]) => MapDecl::hash(num(k)?, num(v)?, num(n)?),
        (MapKind::Hash, _) => {
            return Err(format!(
                "map {index} `{spec}`: write hash:KEY_SIZE:VALUE_SIZE:ENTRIES"
            ));
        }
        (MapKind::Array, [n]) => MapDecl::array(num(n)?),
        (MapKind::PerCpuArray, [n]) => MapDecl::per_cpu_array(num(n)?),
        (MapKind::RingBuf, [n]) => MapDecl::ring_buf(num(n)?),
        (k, _) => {
            return Err(format!(
                "map {index} `{spec}`: write {}:{}",
                k.name(),
                if k == MapKind::RingBuf {
                    "BYTES"
                } else {
                    "ENTRIES"
                }
            ));
        }
    };
    decl.check(index, false).map_err(|e| e.to_string())?;
    Ok(decl)
}

fn leb(mut v: usize, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// `module` with a `kwasm.maps` custom section of `decls` appended.
pub fn append(module: &[u8], decls: &[MapDecl]) -> Result<Vec<u8>, String> {
    if !module.starts_with(b"\0asm") {
        return Err("not a WebAssembly binary (no \\0asm magic)".into());
    }
    let mut payload = Vec::new();
    leb(MAPS_SECTION.len(), &mut payload);
    payload.extend_from_slice(MAPS_SECTION.as_bytes());
    for d in decls {
        payload.extend_from_slice(&d.encode());
    }
    let mut out = module.to_vec();
    out.push(0);
    leb(payload.len(), &mut out);
    out.extend_from_slice(&payload);
    debug_assert!(payload.len() >= decls.len() * DECL_LEN);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CompileOptions, compile};

    #[test]
    fn specs_become_checked_decls() {
        assert_eq!(
            parse_spec("hash:4:16:1024", 0),
            Ok(MapDecl::hash(4, 16, 1024))
        );
        assert_eq!(parse_spec("ring_buf:4096", 1), Ok(MapDecl::ring_buf(4096)));
        assert_eq!(
            parse_spec("per_cpu_array:2", 2),
            Ok(MapDecl::per_cpu_array(2))
        );
        assert!(
            parse_spec("hash:4:16", 0)
                .unwrap_err()
                .contains("hash:KEY_SIZE")
        );
        assert!(
            parse_spec("ring_buf:100", 0)
                .unwrap_err()
                .contains("power of two")
        );
        assert!(
            parse_spec("tree:3", 0)
                .unwrap_err()
                .contains("one of array")
        );
        assert!(
            parse_spec("array:x", 0)
                .unwrap_err()
                .contains("not a number")
        );
    }

    #[test]
    fn appended_maps_are_what_kwasmc_reads() {
        let wasm = wat::parse_str(
            "(module (func (export \"filter\") (param i32) (result i32) i32.const 1))",
        )
        .unwrap();
        let with = append(&wasm, &[MapDecl::array(2), MapDecl::hash(4, 8, 16)]).unwrap();
        compile(&with, &CompileOptions::default()).unwrap();
        let mut decls = Vec::new();
        for p in wasmparser::Parser::new(0).parse_all(&with) {
            if let Ok(wasmparser::Payload::CustomSection(c)) = p
                && c.name() == MAPS_SECTION
            {
                kwasm_abi::maps::parse_decls(c.data(), |d| decls.push(d)).unwrap();
            }
        }
        assert_eq!(decls, [MapDecl::array(2), MapDecl::hash(4, 8, 16)]);
        assert!(append(b"junk", &[]).is_err());
    }
}
