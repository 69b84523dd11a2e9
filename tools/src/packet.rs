//! `kwasm-tools packet`: writes one IPv4/IPv6 packet (from the IP header on,
//! what `kwasm bench --packet` and the eBPF and native runners take) for
//! the bench filters: UDP or TCP, to a port, optionally through an IPv6
//! Hop-by-Hop header, as a non-first IPv4 fragment, carrying a DNS query
//! or a DNS question that is a compression pointer, or a DNS response, cut
//! short.
//!
//! Transport checksums are 0: the packets are replayed to filters, not sent.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct PacketArgs {
    /// Write the packet here.
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
    /// IPv6 (::1 to ::1) instead of IPv4 (127.0.0.1 to 127.0.0.1).
    #[arg(long)]
    pub v6: bool,
    /// IPv6: put an 8-byte Hop-by-Hop Options header before the transport
    /// header.
    #[arg(long, requires = "v6")]
    pub hop_by_hop: bool,
    /// TCP (a SYN) instead of UDP.
    #[arg(long)]
    pub tcp: bool,
    /// Source port.
    #[arg(long, default_value_t = 40000)]
    pub sport: u16,
    /// Destination port.
    #[arg(long, default_value_t = 9)]
    pub dport: u16,
    /// Payload: a DNS query (type A, class IN, RD) for this dotted name.
    #[arg(long, value_name = "NAME")]
    pub dns_query: Option<String>,
    /// With --dns-query: set QR, making the message a response.
    #[arg(long, requires = "dns_query")]
    pub dns_response: bool,
    /// Payload: a DNS query whose question name is a compression pointer.
    #[arg(long, conflicts_with = "dns_query")]
    pub dns_pointer: bool,
    /// Payload: this many zero bytes (without a DNS payload).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub zeros: usize,
    /// IPv4: fragment offset in 8-byte units (non-zero: a later fragment,
    /// which carries no transport header for the filters).
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "v6")]
    pub frag_offset: u16,
    /// Keep only the first N bytes (the headers still give the full
    /// lengths: a truncated capture).
    #[arg(long, value_name = "N")]
    pub truncate: Option<usize>,
}

/// A DNS query message for `name` (type A, class IN, recursion desired).
fn dns_query(name: &str) -> Result<Vec<u8>> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        if label.len() > 63 {
            bail!("label '{label}' is longer than 63 bytes");
        }
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    Ok(m)
}

/// The packet `a` describes.
pub fn build(a: &PacketArgs) -> Result<Vec<u8>> {
    let payload = match (&a.dns_query, a.dns_pointer) {
        (Some(n), _) => {
            let mut m = dns_query(n)?;
            if a.dns_response {
                m[2] |= 0x80;
            }
            m
        }
        (None, true) => vec![
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1,
        ],
        (None, false) => vec![0; a.zeros],
    };
    let (sport, dport) = (a.sport.to_be_bytes(), a.dport.to_be_bytes());
    let (proto, l4) = if a.tcp {
        let mut t = vec![
            sport[0], sport[1], dport[0], dport[1], 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
            0, 0, 0, 0,
        ];
        t.extend_from_slice(&payload);
        (6u8, t)
    } else {
        let len = u16::try_from(8 + payload.len()).context("payload too long")?;
        let l = len.to_be_bytes();
        let mut u = vec![sport[0], sport[1], dport[0], dport[1], l[0], l[1], 0, 0];
        u.extend_from_slice(&payload);
        (17u8, u)
    };
    let mut p = if a.v6 {
        let mut ext = Vec::new();
        let mut next = proto;
        if a.hop_by_hop {
            // Next header, length 0 (8 bytes), a PadN option of 4 bytes.
            ext.extend_from_slice(&[proto, 0, 1, 4, 0, 0, 0, 0]);
            next = 0;
        }
        let pl = u16::try_from(ext.len() + l4.len()).context("packet too long")?;
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&pl.to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        let lo = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        p.extend_from_slice(&lo);
        p.extend_from_slice(&lo);
        p.extend_from_slice(&ext);
        p.extend_from_slice(&l4);
        p
    } else {
        let total = u16::try_from(20 + l4.len()).context("packet too long")?;
        let t = total.to_be_bytes();
        let frag = if a.frag_offset == 0 {
            0x4000 // DF
        } else {
            a.frag_offset & 0x1fff
        };
        let f = frag.to_be_bytes();
        let mut p = vec![
            0x45, 0, t[0], t[1], 0, 0, f[0], f[1], 64, proto, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        let c = kwasm::packet::ipv4_checksum(&p).to_be_bytes();
        p[10..12].copy_from_slice(&c);
        p.extend_from_slice(&l4);
        p
    };
    if let Some(n) = a.truncate {
        p.truncate(n);
    }
    Ok(p)
}

/// Writes the packet; prints its length.
pub fn packet(a: &PacketArgs) -> Result<()> {
    let p = build(a)?;
    std::fs::write(&a.out, &p).with_context(|| format!("writing {}", a.out.display()))?;
    println!("{} bytes", p.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> PacketArgs {
        PacketArgs {
            out: PathBuf::new(),
            v6: false,
            hop_by_hop: false,
            tcp: false,
            sport: 40000,
            dport: 53,
            dns_query: None,
            dns_response: false,
            dns_pointer: false,
            zeros: 0,
            frag_offset: 0,
            truncate: None,
        }
    }

    #[test]
    fn ipv4_dns_query() {
        let p = build(&PacketArgs {
            dns_query: Some("x.blocked.test".into()),
            ..args()
        })
        .unwrap();
        assert_eq!(p.len(), 20 + 8 + 12 + 16 + 4);
        assert_eq!((p[0], p[9]), (0x45, 17));
        assert_eq!(u16::from_be_bytes([p[2], p[3]]) as usize, p.len());
        assert_eq!(
            kwasm::packet::ipv4_checksum(&p[..20]),
            0,
            "a valid header sums to all ones"
        );
        assert_eq!(u16::from_be_bytes([p[22], p[23]]), 53);
        assert_eq!(&p[40..43], &[1, b'x', 7]);
    }

    #[test]
    fn ipv6_hop_by_hop_tcp_truncated() {
        let p = build(&PacketArgs {
            v6: true,
            hop_by_hop: true,
            tcp: true,
            dport: 9999,
            ..args()
        })
        .unwrap();
        assert_eq!(p.len(), 40 + 8 + 20);
        assert_eq!((p[0], p[6], p[40]), (0x60, 0, 6));
        assert_eq!(u16::from_be_bytes([p[50], p[51]]), 9999);
        let t = build(&PacketArgs {
            truncate: Some(22),
            ..args()
        })
        .unwrap();
        assert_eq!((t.len(), u16::from_be_bytes([t[2], t[3]])), (22, 28));
    }
}
