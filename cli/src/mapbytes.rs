//! Map keys and values as text: what `kwasm map lookup|update|delete`
//! accepts and what `kwasm map dump` prints for hash maps, whose keys and
//! values are byte strings of declared sizes.
//!
//! Input is one or more parts joined by `,`, concatenated in order, and
//! must fill the declared size exactly:
//! - an IPv4 or IPv6 address: 4 or 16 bytes in network order;
//! - `hex:0a0b0c`: raw bytes;
//! - `str:example.com`: the text's bytes, zero-padded to the declared size
//!   (the last part only);
//! - `u8:`, `u16:`, `u32:`, `u64:` an integer, little-endian (as wasm
//!   stores it), or `be16:`, `be32:`, `be64:` big-endian (network order);
//! - a bare integer (decimal or 0x-hex) as the only part: little-endian,
//!   as wide as the declared size (1, 2, 4 or 8 bytes).

use anyhow::{Result, bail};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Parses `text` into exactly `size` bytes; `what` ("key", "value") names
/// it in errors.
pub fn parse(text: &str, size: usize, what: &str) -> Result<Vec<u8>> {
    let parts: Vec<&str> = text.split(',').collect();
    let mut out = Vec::with_capacity(size);
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let p = part.trim();
        if let Some(h) = p.strip_prefix("hex:") {
            let h: String = h
                .chars()
                .filter(|c| !c.is_whitespace() && *c != ':')
                .collect();
            if !h.len().is_multiple_of(2) {
                bail!("{what} `{text}`: `{p}` has an odd number of hex digits");
            }
            for k in (0..h.len()).step_by(2) {
                let b = u8::from_str_radix(&h[k..k + 2], 16)
                    .map_err(|_| anyhow::anyhow!("{what} `{text}`: `{p}` is not hex"))?;
                out.push(b);
            }
        } else if let Some(t) = p.strip_prefix("str:") {
            out.extend_from_slice(t.as_bytes());
            if last && out.len() < size {
                out.resize(size, 0);
            }
        } else if let Some((ty, n)) = p.split_once(':').filter(|(ty, _)| int_width(ty).is_some()) {
            let (width, big) = int_width(ty).unwrap_or((8, false));
            push_int(&mut out, n, width, big, what, text)?;
        } else if let Ok(a) = p.parse::<Ipv4Addr>() {
            out.extend_from_slice(&a.octets());
        } else if let Ok(a) = p.parse::<Ipv6Addr>() {
            out.extend_from_slice(&a.octets());
        } else if parts.len() == 1 {
            if !matches!(size, 1 | 2 | 4 | 8) {
                bail!(
                    "{what} `{text}`: a bare integer needs a {what} of 1, 2, 4 or 8 bytes, this map's \
                     is {size}: write it as parts, e.g. `be32:1,u16:53` or `hex:...`"
                );
            }
            push_int(&mut out, p, size, false, what, text)?;
        } else {
            bail!(
                "{what} `{text}`: `{p}` is not an address, hex:, str: or a typed integer \
                 (u8: u16: u32: u64: be16: be32: be64:)"
            );
        }
    }
    if out.len() != size {
        bail!(
            "{what} `{text}` is {} bytes, this map's {what}s are {size}",
            out.len()
        );
    }
    Ok(out)
}

/// Width in bytes and byte order of a typed-integer prefix.
fn int_width(ty: &str) -> Option<(usize, bool)> {
    Some(match ty {
        "u8" => (1, false),
        "u16" => (2, false),
        "u32" => (4, false),
        "u64" => (8, false),
        "be16" => (2, true),
        "be32" => (4, true),
        "be64" => (8, true),
        _ => return None,
    })
}

fn push_int(
    out: &mut Vec<u8>,
    n: &str,
    width: usize,
    big: bool,
    what: &str,
    text: &str,
) -> Result<()> {
    let v = crate::commands::parse_u64(n)?;
    if width < 8 && v >> (8 * width) != 0 {
        bail!("{what} `{text}`: {v} does not fit in {width} bytes");
    }
    let bytes = if big {
        v.to_be_bytes()[8 - width..].to_vec()
    } else {
        v.to_le_bytes()[..width].to_vec()
    };
    out.extend_from_slice(&bytes);
    Ok(())
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How `kwasm map` shows a key or value, as text and as JSON: an integer
/// for 1, 2, 4 or 8 bytes (little-endian, as wasm stores it); a list of
/// `u64`s for a value of whole words; text for printable bytes followed by
/// zero padding (a domain name, say); else `hex:...`.
pub fn render(bytes: &[u8], is_value: bool) -> serde_json::Value {
    use serde_json::Value;
    let le = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    if matches!(bytes.len(), 1 | 2 | 4 | 8) {
        return Value::from(le(bytes));
    }
    if is_value && bytes.len().is_multiple_of(8) {
        return Value::from(bytes.chunks(8).map(le).collect::<Vec<u64>>());
    }
    let text_len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let (text, pad) = bytes.split_at(text_len);
    if !text.is_empty()
        && text.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
        && pad.iter().all(|&b| b == 0)
    {
        return Value::from(String::from_utf8_lossy(text).into_owned());
    }
    Value::from(format!("hex:{}", hex(bytes)))
}

/// [`render`] as one line of text: lists space-separated, strings bare.
pub fn render_text(bytes: &[u8], is_value: bool) -> String {
    match render(bytes, is_value) {
        serde_json::Value::Array(a) => a
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        serde_json::Value::String(s) => s,
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("9998", 4, "key").unwrap(), 9998u32.to_le_bytes());
        assert_eq!(parse("0x10", 2, "key").unwrap(), [16, 0]);
        assert_eq!(parse("10.0.0.1", 4, "key").unwrap(), [10, 0, 0, 1]);
        assert_eq!(parse("::1", 16, "key").unwrap()[15], 1);
        assert_eq!(
            parse("10.0.0.1,10.0.0.2,u8:17,hex:0000,be16:53", 13, "key").unwrap(),
            [10, 0, 0, 1, 10, 0, 0, 2, 17, 0, 0, 0, 53]
        );
        assert_eq!(parse("str:ab", 4, "key").unwrap(), *b"ab\0\0");
        assert_eq!(parse("hex:de ad", 2, "value").unwrap(), [0xde, 0xad]);
    }

    #[test]
    fn refuses_what_does_not_fit() {
        let e = |t: &str, n| parse(t, n, "key").unwrap_err().to_string();
        assert!(e("9998", 3).contains("1, 2, 4 or 8 bytes"));
        assert!(e("10.0.0.1", 8).contains("is 4 bytes, this map's keys are 8"));
        assert!(e("u8:300,u8:1", 2).contains("does not fit in 1 bytes"));
        assert!(e("hex:abc", 2).contains("odd number"));
        assert!(e("1,2", 2).contains("typed integer"));
        assert!(e("str:toolong", 4).contains("is 7 bytes"));
    }

    #[test]
    fn renders_by_shape() {
        assert_eq!(render(&30u64.to_le_bytes(), true), serde_json::json!(30));
        assert_eq!(
            render(&[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], true),
            serde_json::json!([1, 2])
        );
        assert_eq!(
            render(b"example.com\0\0\0\0\0", false),
            serde_json::json!("example.com")
        );
        assert_eq!(
            render(&[10, 0, 0, 1, 7, 0], false),
            serde_json::json!("hex:0a0000010700")
        );
        assert_eq!(
            render_text(&[1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], true),
            "1 2"
        );
    }
}
