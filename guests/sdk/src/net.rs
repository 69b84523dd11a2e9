//! Packet header parsing over byte slices.
//!
//! The packet a kwasm program sees starts at the IP header (IPv4 or IPv6, as
//! at a netfilter hook); multi-byte fields are in network byte order. Load its
//! first bytes with [`crate::host::load_packet`] and parse them here. Every
//! parser checks bounds and returns `None` on a short or malformed header
//! instead of panicking, so programs can fail open (or closed) explicitly.
//!
//! ```ignore
//! let mut buf = [0u8; 128];
//! let pkt = kwasm_guest::host::load_packet(&mut buf);
//! let ip = net::IpHeader::parse(pkt)?;
//! if ip.protocol() == net::proto::UDP {
//!     let udp = net::UdpHeader::parse(ip.transport()?)?;
//!     if udp.dst_port() == 9999 { /* ... */ }
//! }
//! ```

use core::fmt;

/// IP protocol numbers (IPv4 `protocol`, IPv6 `next header`).
pub mod proto {
    /// IPv6 Hop-by-Hop Options extension header.
    pub const HOPOPT: u8 = 0;
    /// Internet Control Message Protocol.
    pub const ICMP: u8 = 1;
    /// Internet Group Management Protocol.
    pub const IGMP: u8 = 2;
    /// IPv4 encapsulation (IP-in-IP).
    pub const IPIP: u8 = 4;
    /// Transmission Control Protocol.
    pub const TCP: u8 = 6;
    /// User Datagram Protocol.
    pub const UDP: u8 = 17;
    /// IPv6 encapsulation.
    pub const IPV6: u8 = 41;
    /// IPv6 Routing extension header.
    pub const IPV6_ROUTE: u8 = 43;
    /// IPv6 Fragment extension header.
    pub const IPV6_FRAG: u8 = 44;
    /// Generic Routing Encapsulation.
    pub const GRE: u8 = 47;
    /// Encapsulating Security Payload.
    pub const ESP: u8 = 50;
    /// Authentication Header.
    pub const AH: u8 = 51;
    /// ICMP for IPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const IPV6_NONXT: u8 = 59;
    /// IPv6 Destination Options extension header.
    pub const IPV6_OPTS: u8 = 60;
    /// Stream Control Transmission Protocol.
    pub const SCTP: u8 = 132;
    /// Lightweight UDP.
    pub const UDPLITE: u8 = 136;
}

/// Reads a big-endian `u16` at `off`, or `None` if it is out of bounds.
#[inline]
pub fn be16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Reads a big-endian `u32` at `off`, or `None` if it is out of bounds.
#[inline]
pub fn be32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// An IP address, as found in a header. `Display` prints the usual text form
/// (`192.0.2.1`, `2001:db8::1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IpAddr {
    /// An IPv4 address, network order.
    V4([u8; 4]),
    /// An IPv6 address, network order.
    V6([u8; 16]),
}

impl fmt::Display for IpAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpAddr::V4(a) => write!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
            IpAddr::V6(a) => {
                let mut w = [0u16; 8];
                for (i, x) in w.iter_mut().enumerate() {
                    *x = u16::from_be_bytes([a[2 * i], a[2 * i + 1]]);
                }
                // RFC 5952: compress the longest run (>= 2) of zero groups,
                // the first one on a tie.
                let (mut best, mut best_len, mut i) = (8, 0, 0);
                while i < 8 {
                    if w[i] == 0 {
                        let start = i;
                        while i < 8 && w[i] == 0 {
                            i += 1;
                        }
                        if i - start > best_len {
                            best = start;
                            best_len = i - start;
                        }
                    } else {
                        i += 1;
                    }
                }
                if best_len < 2 {
                    best = 8;
                    best_len = 0;
                }
                let mut i = 0;
                while i < 8 {
                    if i == best {
                        f.write_str("::")?;
                        i += best_len;
                        continue;
                    }
                    if i != 0 && i != best + best_len {
                        f.write_str(":")?;
                    }
                    write!(f, "{:x}", w[i])?;
                    i += 1;
                }
                Ok(())
            }
        }
    }
}

/// A validated IPv4 header: at least 20 bytes, version 4, a header length
/// (IHL) of 20..=60 bytes that fits in the slice.
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Header<'a> {
    bytes: &'a [u8],
}

impl<'a> Ipv4Header<'a> {
    /// Minimum IPv4 header length.
    pub const MIN_LEN: usize = 20;

    /// Parses the IPv4 header at the start of `pkt`.
    pub fn parse(pkt: &'a [u8]) -> Option<Self> {
        let b0 = *pkt.first()?;
        let hl = usize::from(b0 & 0x0f) * 4;
        if b0 >> 4 != 4 || hl < Self::MIN_LEN || pkt.len() < hl {
            return None;
        }
        let h = Ipv4Header { bytes: pkt };
        // A total length shorter than the header is malformed; 0 is allowed
        // (GSO/BIG TCP packets may carry 0 and the real length elsewhere).
        let tl = usize::from(h.total_len());
        if tl != 0 && tl < hl {
            return None;
        }
        Some(h)
    }

    /// Header length in bytes (IHL * 4), 20..=60.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes[0] & 0x0f) * 4
    }
    /// Differentiated services code point (6 bits).
    #[inline]
    pub fn dscp(&self) -> u8 {
        self.bytes[1] >> 2
    }
    /// Explicit congestion notification (2 bits).
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.bytes[1] & 3
    }
    /// Total length of the datagram (header + payload) in bytes.
    #[inline]
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]])
    }
    /// Identification field.
    #[inline]
    pub fn id(&self) -> u16 {
        u16::from_be_bytes([self.bytes[4], self.bytes[5]])
    }
    /// "Don't fragment" flag.
    #[inline]
    pub fn dont_fragment(&self) -> bool {
        self.bytes[6] & 0x40 != 0
    }
    /// "More fragments" flag.
    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.bytes[6] & 0x20 != 0
    }
    /// Fragment offset in 8-byte units.
    #[inline]
    pub fn fragment_offset(&self) -> u16 {
        u16::from_be_bytes([self.bytes[6], self.bytes[7]]) & 0x1fff
    }
    /// Whether this is a fragment of a larger datagram (any fragment).
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.more_fragments() || self.fragment_offset() != 0
    }
    /// Time to live.
    #[inline]
    pub fn ttl(&self) -> u8 {
        self.bytes[8]
    }
    /// Protocol of the payload (see [`proto`]).
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.bytes[9]
    }
    /// Header checksum.
    #[inline]
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.bytes[10], self.bytes[11]])
    }
    /// Source address.
    #[inline]
    pub fn src(&self) -> [u8; 4] {
        [
            self.bytes[12],
            self.bytes[13],
            self.bytes[14],
            self.bytes[15],
        ]
    }
    /// Destination address.
    #[inline]
    pub fn dst(&self) -> [u8; 4] {
        [
            self.bytes[16],
            self.bytes[17],
            self.bytes[18],
            self.bytes[19],
        ]
    }
    /// Options (header bytes after the first 20), possibly empty.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        &self.bytes[Self::MIN_LEN..self.header_len()]
    }
    /// The visible payload: after the header, up to the total length or the
    /// end of the slice, whichever comes first.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let hl = self.header_len();
        let tl = usize::from(self.total_len());
        let end = if tl == 0 {
            self.bytes.len()
        } else {
            tl.min(self.bytes.len())
        };
        &self.bytes[hl..end.max(hl)]
    }
}

/// A validated IPv6 fixed header: at least 40 bytes, version 6.
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Header<'a> {
    bytes: &'a [u8],
}

/// Where the upper-layer (transport) header of an IPv6 packet is, found by
/// walking the extension headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Upper {
    /// The upper-layer protocol: the last "next header" value (see [`proto`]).
    /// When the walk stopped early (truncation, too many headers, ESP), the
    /// next-header value at which it stopped.
    pub protocol: u8,
    /// Offset of the upper-layer header from the start of the IPv6 header,
    /// `None` when it is not in this packet: a non-first fragment, an
    /// encrypted (ESP) payload, "no next header", or a truncated chain.
    pub offset: Option<usize>,
    /// Whether a Fragment header was seen.
    pub fragment: bool,
}

impl<'a> Ipv6Header<'a> {
    /// Length of the fixed IPv6 header.
    pub const LEN: usize = 40;
    /// Most extension headers [`Ipv6Header::upper`] walks through.
    pub const MAX_EXT_HEADERS: usize = 8;

    /// Parses the IPv6 header at the start of `pkt`.
    pub fn parse(pkt: &'a [u8]) -> Option<Self> {
        if pkt.len() < Self::LEN || pkt[0] >> 4 != 6 {
            return None;
        }
        Some(Ipv6Header { bytes: pkt })
    }

    /// Traffic class (DSCP and ECN).
    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.bytes[0] << 4) | (self.bytes[1] >> 4)
    }
    /// Flow label (20 bits).
    #[inline]
    pub fn flow_label(&self) -> u32 {
        u32::from_be_bytes([0, self.bytes[1] & 0x0f, self.bytes[2], self.bytes[3]])
    }
    /// Payload length (everything after the fixed header), 0 for jumbograms.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes([self.bytes[4], self.bytes[5]])
    }
    /// The fixed header's next-header field (may be an extension header; see
    /// [`Ipv6Header::upper`]).
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.bytes[6]
    }
    /// Hop limit.
    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.bytes[7]
    }
    /// Source address.
    #[inline]
    pub fn src(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.bytes[8..24]);
        a
    }
    /// Destination address.
    #[inline]
    pub fn dst(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.bytes[24..40]);
        a
    }
    /// The visible packet bytes covered by the IPv6 header and its payload
    /// length (all visible bytes for a jumbogram).
    #[inline]
    fn datagram(&self) -> &'a [u8] {
        let pl = usize::from(self.payload_len());
        if pl == 0 {
            self.bytes
        } else {
            &self.bytes[..(Self::LEN + pl).min(self.bytes.len())]
        }
    }

    /// Walks the extension headers (Hop-by-Hop, Routing, Fragment,
    /// Destination Options, AH; at most [`Self::MAX_EXT_HEADERS`]) to find
    /// the upper-layer protocol and header.
    pub fn upper(&self) -> Ipv6Upper {
        let data = self.datagram();
        let mut nh = self.next_header();
        let mut off = Self::LEN;
        let mut fragment = false;
        for _ in 0..Self::MAX_EXT_HEADERS {
            let len = match nh {
                proto::HOPOPT | proto::IPV6_ROUTE | proto::IPV6_OPTS => match data.get(off + 1) {
                    Some(&l) => (usize::from(l) + 1) * 8,
                    None => break,
                },
                proto::AH => match data.get(off + 1) {
                    Some(&l) => (usize::from(l) + 2) * 4,
                    None => break,
                },
                proto::IPV6_FRAG => {
                    fragment = true;
                    match be16(data, off + 2) {
                        // Offset in 8-byte units, in the top 13 bits.
                        Some(fo) if fo >> 3 != 0 => {
                            let protocol = data[off];
                            return Ipv6Upper {
                                protocol,
                                offset: None,
                                fragment,
                            };
                        }
                        Some(_) => 8,
                        None => break,
                    }
                }
                proto::ESP | proto::IPV6_NONXT => break,
                _ => {
                    return Ipv6Upper {
                        protocol: nh,
                        offset: Some(off),
                        fragment,
                    };
                }
            };
            if off + len > data.len() {
                break;
            }
            nh = data[off];
            off += len;
        }
        Ipv6Upper {
            protocol: nh,
            offset: None,
            fragment,
        }
    }
}

/// An IPv4 or IPv6 header, whichever the packet starts with.
#[derive(Clone, Copy, Debug)]
pub enum IpHeader<'a> {
    /// IPv4.
    V4(Ipv4Header<'a>),
    /// IPv6.
    V6(Ipv6Header<'a>),
}

impl<'a> IpHeader<'a> {
    /// Parses the IP header at the start of `pkt` by its version nibble.
    pub fn parse(pkt: &'a [u8]) -> Option<Self> {
        match pkt.first()? >> 4 {
            4 => Ipv4Header::parse(pkt).map(IpHeader::V4),
            6 => Ipv6Header::parse(pkt).map(IpHeader::V6),
            _ => None,
        }
    }

    /// 4 or 6.
    #[inline]
    pub fn version(&self) -> u8 {
        match self {
            IpHeader::V4(_) => 4,
            IpHeader::V6(_) => 6,
        }
    }

    /// The upper-layer protocol (see [`proto`]): IPv4's protocol field, or
    /// for IPv6 the protocol after the extension headers.
    pub fn protocol(&self) -> u8 {
        match self {
            IpHeader::V4(h) => h.protocol(),
            IpHeader::V6(h) => h.upper().protocol,
        }
    }

    /// The visible transport header and payload, or `None` when they are not
    /// in this packet (a non-first fragment, ESP, a truncated IPv6 extension
    /// header chain).
    pub fn transport(&self) -> Option<&'a [u8]> {
        match self {
            IpHeader::V4(h) => (h.fragment_offset() == 0).then(|| h.payload()),
            IpHeader::V6(h) => {
                let off = h.upper().offset?;
                h.datagram().get(off..)
            }
        }
    }

    /// Source address.
    pub fn src(&self) -> IpAddr {
        match self {
            IpHeader::V4(h) => IpAddr::V4(h.src()),
            IpHeader::V6(h) => IpAddr::V6(h.src()),
        }
    }

    /// Destination address.
    pub fn dst(&self) -> IpAddr {
        match self {
            IpHeader::V4(h) => IpAddr::V4(h.dst()),
            IpHeader::V6(h) => IpAddr::V6(h.dst()),
        }
    }

    /// Length of the datagram according to the header (IPv4 total length,
    /// IPv6 40 + payload length); 0 when the header does not say (GSO,
    /// jumbograms).
    pub fn total_len(&self) -> u32 {
        match self {
            IpHeader::V4(h) => u32::from(h.total_len()),
            IpHeader::V6(h) => match h.payload_len() {
                0 => 0,
                n => 40 + u32::from(n),
            },
        }
    }
}

/// A UDP header (8 bytes) and its payload.
#[derive(Clone, Copy, Debug)]
pub struct UdpHeader<'a> {
    bytes: &'a [u8],
}

impl<'a> UdpHeader<'a> {
    /// Length of the UDP header.
    pub const LEN: usize = 8;

    /// Parses the UDP header at the start of `l4` (see
    /// [`IpHeader::transport`]).
    pub fn parse(l4: &'a [u8]) -> Option<Self> {
        (l4.len() >= Self::LEN).then_some(UdpHeader { bytes: l4 })
    }
    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.bytes[0], self.bytes[1]])
    }
    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]])
    }
    /// Length field (header + payload).
    #[inline]
    pub fn len(&self) -> u16 {
        u16::from_be_bytes([self.bytes[4], self.bytes[5]])
    }
    /// Whether the length field says there is no payload.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() <= Self::LEN as u16
    }
    /// Checksum field.
    #[inline]
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.bytes[6], self.bytes[7]])
    }
    /// The visible payload: up to the length field or the end of the slice,
    /// whichever comes first (a length below 8, e.g. 0 in jumbograms, means
    /// the rest of the slice).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let l = usize::from(self.len());
        let end = if l < Self::LEN {
            self.bytes.len()
        } else {
            l.min(self.bytes.len())
        };
        &self.bytes[Self::LEN..end]
    }
}

/// TCP flag bits (the low byte of the flags field).
pub mod tcp_flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field is significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer field is significant.
    pub const URG: u8 = 0x20;
    /// ECN echo.
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced.
    pub const CWR: u8 = 0x80;
}

/// A TCP header: at least 20 bytes, a data offset of 20..=60 bytes that fits
/// in the slice.
#[derive(Clone, Copy, Debug)]
pub struct TcpHeader<'a> {
    bytes: &'a [u8],
}

impl<'a> TcpHeader<'a> {
    /// Minimum TCP header length.
    pub const MIN_LEN: usize = 20;

    /// Parses the TCP header at the start of `l4`.
    pub fn parse(l4: &'a [u8]) -> Option<Self> {
        let doff = usize::from(*l4.get(12)? >> 4) * 4;
        (doff >= Self::MIN_LEN && l4.len() >= doff).then_some(TcpHeader { bytes: l4 })
    }
    /// Source port.
    #[inline]
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.bytes[0], self.bytes[1]])
    }
    /// Destination port.
    #[inline]
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]])
    }
    /// Sequence number.
    #[inline]
    pub fn seq(&self) -> u32 {
        u32::from_be_bytes([self.bytes[4], self.bytes[5], self.bytes[6], self.bytes[7]])
    }
    /// Acknowledgment number.
    #[inline]
    pub fn ack(&self) -> u32 {
        u32::from_be_bytes([self.bytes[8], self.bytes[9], self.bytes[10], self.bytes[11]])
    }
    /// Header length in bytes (data offset * 4).
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.bytes[12] >> 4) * 4
    }
    /// Flags (see [`tcp_flags`]).
    #[inline]
    pub fn flags(&self) -> u8 {
        self.bytes[13]
    }
    /// Whether all bits of `flags` are set.
    #[inline]
    pub fn has_flags(&self, flags: u8) -> bool {
        self.flags() & flags == flags
    }
    /// Receive window.
    #[inline]
    pub fn window(&self) -> u16 {
        u16::from_be_bytes([self.bytes[14], self.bytes[15]])
    }
    /// The visible payload after the header and options.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[self.header_len()..]
    }
}

/// Source and destination ports of a TCP, UDP, UDP-Lite or SCTP packet
/// (these all start with two 16-bit ports), or `None` for other protocols and
/// when the transport header is not visible.
pub fn ports(ip: &IpHeader<'_>) -> Option<(u16, u16)> {
    match ip.protocol() {
        proto::TCP | proto::UDP | proto::UDPLITE | proto::SCTP => {
            let l4 = ip.transport()?;
            Some((be16(l4, 0)?, be16(l4, 2)?))
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an IPv4 packet with the given protocol and payload.
    pub(crate) fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, protocol, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        p.extend_from_slice(payload);
        let tl = p.len() as u16;
        p[2..4].copy_from_slice(&tl.to_be_bytes());
        p
    }

    /// Builds an IPv6 packet with the given next header and payload.
    pub(crate) fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(payload);
        p
    }

    /// Builds a UDP header + payload.
    pub(crate) fn udp(src: u16, dst: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&src.to_be_bytes());
        u.extend_from_slice(&dst.to_be_bytes());
        u.extend_from_slice(&((payload.len() + 8) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    fn tcp(src: u16, dst: u16, flags: u8) -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&src.to_be_bytes());
        t[2..4].copy_from_slice(&dst.to_be_bytes());
        t[4..8].copy_from_slice(&7u32.to_be_bytes());
        t[12] = 5 << 4;
        t[13] = flags;
        t.extend_from_slice(b"data");
        t
    }

    #[test]
    fn ipv4_udp() {
        let p = ipv4(proto::UDP, &udp(1234, 9999, b"hello"));
        let ip = IpHeader::parse(&p).unwrap();
        assert_eq!(ip.version(), 4);
        assert_eq!(ip.protocol(), proto::UDP);
        assert_eq!(ip.src(), IpAddr::V4([10, 0, 0, 1]));
        assert_eq!(ip.dst(), IpAddr::V4([10, 0, 0, 2]));
        assert_eq!(ip.total_len(), p.len() as u32);
        let IpHeader::V4(v4) = ip else { panic!() };
        assert_eq!(v4.ttl(), 64);
        assert!(v4.dont_fragment() && !v4.is_fragment());
        assert_eq!(v4.id(), 0x1234);
        let u = UdpHeader::parse(ip.transport().unwrap()).unwrap();
        assert_eq!((u.src_port(), u.dst_port()), (1234, 9999));
        assert_eq!(u.payload(), b"hello");
        assert_eq!(ports(&ip), Some((1234, 9999)));
    }

    #[test]
    fn ipv4_options_and_trailing_bytes() {
        // IHL 6 (one option word), and ethernet padding after total length.
        let mut p = vec![
            0x46,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            64,
            proto::UDP,
            0,
            0,
            1,
            2,
            3,
            4,
            5,
            6,
            7,
            8,
        ];
        p.extend_from_slice(&[1, 1, 1, 0]);
        p.extend_from_slice(&udp(53, 53, b"x"));
        let tl = p.len() as u16;
        p[2..4].copy_from_slice(&tl.to_be_bytes());
        p.extend_from_slice(&[0xee; 6]);
        let IpHeader::V4(h) = IpHeader::parse(&p).unwrap() else {
            panic!()
        };
        assert_eq!(h.header_len(), 24);
        assert_eq!(h.options(), &[1, 1, 1, 0]);
        assert_eq!(h.payload().len(), 9);
        let u = UdpHeader::parse(h.payload()).unwrap();
        assert_eq!(u.payload(), b"x");
    }

    #[test]
    fn ipv4_rejects_malformed() {
        let p = ipv4(proto::UDP, &udp(1, 2, b""));
        assert!(IpHeader::parse(&p[..19]).is_none(), "short");
        let mut bad = p.clone();
        bad[0] = 0x44; // IHL 4
        assert!(IpHeader::parse(&bad).is_none());
        bad[0] = 0x4f; // IHL 15 = 60 bytes > packet
        assert!(IpHeader::parse(&bad).is_none());
        let mut bad = p.clone();
        bad[2..4].copy_from_slice(&10u16.to_be_bytes()); // total < header
        assert!(IpHeader::parse(&bad).is_none());
        assert!(IpHeader::parse(&[]).is_none());
        assert!(IpHeader::parse(&[0x55; 40]).is_none(), "version 5");
    }

    #[test]
    fn ipv4_fragments() {
        let mut p = ipv4(proto::UDP, &udp(1, 9999, b"abc"));
        p[6] = 0x20; // MF, offset 0: first fragment has the UDP header
        let ip = IpHeader::parse(&p).unwrap();
        assert!(ip.transport().is_some());
        p[6] = 0x00;
        p[7] = 0x10; // offset 16 * 8: no transport header
        let ip = IpHeader::parse(&p).unwrap();
        assert!(ip.transport().is_none());
        assert_eq!(ports(&ip), None);
    }

    #[test]
    fn truncated_visible_prefix() {
        // The header says 1000 bytes but only the first 30 are visible.
        let mut p = ipv4(proto::UDP, &udp(5, 6, &[0; 972]));
        p.truncate(30);
        let ip = IpHeader::parse(&p).unwrap();
        let u = UdpHeader::parse(ip.transport().unwrap()).unwrap();
        assert_eq!(u.dst_port(), 6);
        assert_eq!(u.payload().len(), 2);
        p.truncate(25);
        let ip = IpHeader::parse(&p).unwrap();
        assert!(UdpHeader::parse(ip.transport().unwrap()).is_none());
        assert_eq!(ports(&ip), Some((5, 6)), "ports need only 4 bytes");
        p.truncate(23);
        let ip = IpHeader::parse(&p).unwrap();
        assert_eq!(ports(&ip), None);
    }

    #[test]
    fn ipv4_tcp() {
        let p = ipv4(
            proto::TCP,
            &tcp(40000, 443, tcp_flags::SYN | tcp_flags::ACK),
        );
        let ip = IpHeader::parse(&p).unwrap();
        let t = TcpHeader::parse(ip.transport().unwrap()).unwrap();
        assert_eq!((t.src_port(), t.dst_port()), (40000, 443));
        assert_eq!(t.seq(), 7);
        assert!(t.has_flags(tcp_flags::SYN | tcp_flags::ACK));
        assert!(!t.has_flags(tcp_flags::FIN));
        assert_eq!(t.payload(), b"data");
        assert_eq!(ports(&ip), Some((40000, 443)));
        let mut bad = tcp(1, 2, 0);
        bad[12] = 4 << 4;
        assert!(TcpHeader::parse(&bad).is_none());
        bad[12] = 15 << 4;
        assert!(TcpHeader::parse(&bad).is_none());
    }

    #[test]
    fn ipv6_udp() {
        let p = ipv6(proto::UDP, &udp(5353, 9999, b"hi"));
        let ip = IpHeader::parse(&p).unwrap();
        assert_eq!(ip.version(), 6);
        assert_eq!(ip.protocol(), proto::UDP);
        assert_eq!(ip.total_len(), p.len() as u32);
        assert_eq!(ports(&ip), Some((5353, 9999)));
        let IpHeader::V6(h) = ip else { panic!() };
        assert_eq!(h.hop_limit(), 64);
        assert_eq!(
            h.upper(),
            Ipv6Upper {
                protocol: proto::UDP,
                offset: Some(40),
                fragment: false
            }
        );
    }

    #[test]
    fn ipv6_extension_headers() {
        // Hop-by-hop (8 bytes) -> dest opts (16 bytes) -> fragment (first) -> UDP.
        let mut ext = vec![proto::IPV6_OPTS, 0, 0, 0, 0, 0, 0, 0];
        ext.extend_from_slice(&[proto::IPV6_FRAG, 1]);
        ext.extend_from_slice(&[0; 14]);
        ext.extend_from_slice(&[proto::UDP, 0, 0x00, 0x01, 0, 0, 0, 42]); // offset 0, M=1
        ext.extend_from_slice(&udp(1, 9999, b"z"));
        let p = ipv6(proto::HOPOPT, &ext);
        let ip = IpHeader::parse(&p).unwrap();
        assert_eq!(ip.protocol(), proto::UDP);
        let IpHeader::V6(h) = ip else { panic!() };
        assert_eq!(
            h.upper(),
            Ipv6Upper {
                protocol: proto::UDP,
                offset: Some(72),
                fragment: true
            }
        );
        assert_eq!(ports(&ip), Some((1, 9999)));

        // A non-first fragment has no transport header.
        let mut frag = vec![proto::UDP, 0, 0x00, 0x08, 0, 0, 0, 42]; // offset 1
        frag.extend_from_slice(&[0; 16]);
        let p = ipv6(proto::IPV6_FRAG, &frag);
        let ip = IpHeader::parse(&p).unwrap();
        assert_eq!(ip.protocol(), proto::UDP);
        assert!(ip.transport().is_none());
        assert_eq!(ports(&ip), None);

        // A truncated chain stops the walk.
        let p = ipv6(proto::HOPOPT, &[proto::UDP, 4, 0, 0]);
        let IpHeader::V6(h) = IpHeader::parse(&p).unwrap() else {
            panic!()
        };
        assert_eq!(h.upper().offset, None);

        // ESP: nothing visible.
        let p = ipv6(proto::ESP, &[0; 16]);
        let ip = IpHeader::parse(&p).unwrap();
        assert_eq!(ip.protocol(), proto::ESP);
        assert!(ip.transport().is_none());

        // A loop of hop-by-hop headers ends after MAX_EXT_HEADERS.
        let p = ipv6(proto::HOPOPT, &[0u8; 8 * 12]);
        let IpHeader::V6(h) = IpHeader::parse(&p).unwrap() else {
            panic!()
        };
        assert_eq!(h.upper().offset, None);
    }

    #[test]
    fn ipv6_payload_len_bounds_walk() {
        // Payload length says 2 but more bytes follow (padding): the ports
        // are not inside the datagram.
        let mut p = ipv6(proto::UDP, &udp(1, 2, b""));
        p[4..6].copy_from_slice(&2u16.to_be_bytes());
        let ip = IpHeader::parse(&p).unwrap();
        assert_eq!(ports(&ip), None);
        assert!(IpHeader::parse(&p[..39]).is_none());
    }

    #[test]
    fn addr_display() {
        extern crate std;
        use std::string::ToString;
        let v6 = |s: [u16; 8]| {
            let mut a = [0u8; 16];
            for (i, w) in s.iter().enumerate() {
                a[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
            }
            IpAddr::V6(a).to_string()
        };
        assert_eq!(IpAddr::V4([192, 0, 2, 1]).to_string(), "192.0.2.1");
        assert_eq!(v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]), "2001:db8::1");
        assert_eq!(v6([0; 8]), "::");
        assert_eq!(v6([0, 0, 0, 0, 0, 0, 0, 1]), "::1");
        assert_eq!(v6([1, 0, 0, 0, 0, 0, 0, 0]), "1::");
        assert_eq!(v6([1, 0, 1, 0, 0, 1, 0, 0]), "1:0:1::1:0:0");
        assert_eq!(v6([1, 2, 3, 4, 5, 6, 7, 8]), "1:2:3:4:5:6:7:8");
        assert_eq!(v6([1, 0, 3, 4, 5, 6, 7, 8]), "1:0:3:4:5:6:7:8");
        assert_eq!(v6([0xfe80, 0, 0, 0, 0xabcd, 0, 0, 0]), "fe80::abcd:0:0:0");
    }
}
