//! Packets for the benches, from the IP header on: IPv4/UDP datagrams
//! from 127.0.0.1:40000 to 127.0.0.1, and DNS queries to put in them
//! (`kwasm bench --udp/--len/--dns`; `kwasm-tools packet` builds the
//! others the VM checks need, with the same header checksum).

use anyhow::{Result, bail};
use kwasm_abi::ioctl;

/// An IPv4/UDP datagram of `len` bytes (header checksum set, UDP checksum
/// 0, payload zero) from 127.0.0.1:40000 to 127.0.0.1:`dport`.
pub fn udp_packet(dport: u16, len: u32) -> Result<Vec<u8>> {
    if !(28..=ioctl::BENCH_MAX_PACKET).contains(&len) {
        bail!(
            "--len {len}: an IPv4/UDP packet has 28..={} bytes",
            ioctl::BENCH_MAX_PACKET
        );
    }
    udp_datagram(dport, &vec![0u8; len as usize - 28])
}

/// A DNS query message for `name` (id 0x6b77, recursion desired, one
/// question of type A, class IN).
pub fn dns_query(name: &str) -> Result<Vec<u8>> {
    let mut m = vec![0x6b, 0x77, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            bail!("--dns {name}: labels have 1..=63 bytes");
        }
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
    if m.len() - 12 > 255 {
        bail!("--dns {name}: a name has at most 255 bytes");
    }
    m.extend_from_slice(&[0, 1, 0, 1]);
    Ok(m)
}

/// An IPv4/UDP datagram carrying `payload` (header checksum set, UDP
/// checksum 0) from 127.0.0.1:40000 to 127.0.0.1:`dport`.
pub fn udp_datagram(dport: u16, payload: &[u8]) -> Result<Vec<u8>> {
    let len = 28 + payload.len();
    if len > ioctl::BENCH_MAX_PACKET as usize {
        bail!(
            "a {len}-byte packet: a bench packet has at most {} bytes",
            ioctl::BENCH_MAX_PACKET
        );
    }
    let mut p = vec![0u8; 28];
    p.extend_from_slice(payload);
    let total = (len as u16).to_be_bytes();
    let udp_len = (len as u16 - 20).to_be_bytes();
    p[..20].copy_from_slice(&[
        0x45, 0, total[0], total[1], 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
    ]);
    let sum = ipv4_checksum(&p[..20]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    let sport = 40000u16.to_be_bytes();
    let dport = dport.to_be_bytes();
    p[20..28].copy_from_slice(&[
        sport[0], sport[1], dport[0], dport[1], udp_len[0], udp_len[1], 0, 0,
    ]);
    Ok(p)
}

/// The one's-complement sum of big-endian 16-bit words (the IPv4 header
/// checksum is its complement).
pub(crate) fn ones_complement_sum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|w| u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The IPv4 header checksum of header `h` (its checksum field zero).
pub fn ipv4_checksum(h: &[u8]) -> u16 {
    !ones_complement_sum(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_query_encodes_one_question() {
        let q = dns_query("www.example.com.").unwrap();
        assert_eq!(&q[..12], &[0x6b, 0x77, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..29], b"\x03www\x07example\x03com\x00");
        assert_eq!(&q[29..], &[0, 1, 0, 1]);
        assert!(dns_query("a..b").is_err());
        assert!(dns_query(&"x".repeat(64)).is_err());
        let p = udp_datagram(53, &q).unwrap();
        assert_eq!((p.len(), &p[22..24]), (28 + q.len(), &[0u8, 53][..]));
    }

    #[test]
    fn udp_packet_is_a_valid_ipv4_udp_datagram() {
        let p = udp_packet(9999, 64).unwrap();
        assert_eq!(p.len(), 64);
        assert_eq!((p[0], p[9]), (0x45, 17));
        assert_eq!(u16::from_be_bytes([p[2], p[3]]), 64);
        assert_eq!(u16::from_be_bytes([p[22], p[23]]), 9999);
        assert_eq!(u16::from_be_bytes([p[24], p[25]]), 44);
        // The header checksum makes the one's-complement sum all ones.
        assert_eq!(ones_complement_sum(&p[..20]), 0xffff);
        assert!(udp_packet(53, 27).is_err());
        assert!(udp_packet(53, 65536).is_err());
        assert_eq!(udp_packet(53, 65535).unwrap().len(), 65535);
    }
}
