//! DNS message parsing (RFC 1035): the header and the question section, with
//! bounds checks on every read, without allocation.
//!
//! ```ignore
//! let udp = net::UdpHeader::parse(ip.transport()?)?;
//! if udp.dst_port() == dns::PORT {
//!     match dns::parse_query(udp.payload()) {
//!         Ok((_hdr, q)) if q.name.is_subdomain_of("blocked.test") => return Verdict::Drop,
//!         Ok((_hdr, q)) => kwasm_guest::log!("query {} {}", q.name, dns::QType(q.qtype)),
//!         Err(e) => kwasm_guest::log!("bad dns: {}", e),
//!     }
//! }
//! ```

use core::fmt;

use crate::Verdict;
use crate::host::Map;
use crate::net::{IpHeader, UdpHeader, proto};

/// The DNS port.
pub const PORT: u16 = 53;
/// Length of the DNS header.
pub const HEADER_LEN: usize = 12;
/// Most octets a name may take in wire form, length bytes and the final zero
/// included.
pub const MAX_NAME_LEN: usize = 255;
/// Longest label.
pub const MAX_LABEL_LEN: usize = 63;

/// Why a message could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The message ends before the header, a label or the question does.
    Truncated,
    /// A name is longer than 255 octets in wire form.
    NameTooLong,
    /// A label starts with the reserved `01`/`10` type bits.
    BadLabel,
    /// A compression pointer where none is expected (the first question of a
    /// query has nothing before it to point to).
    Compressed,
    /// The message is a response (QR set), not a query.
    NotQuery,
    /// The question count is 0.
    NoQuestion,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Truncated => "truncated",
            Error::NameTooLong => "name too long",
            Error::BadLabel => "bad label type",
            Error::Compressed => "compression pointer in question",
            Error::NotQuery => "not a query",
            Error::NoQuestion => "no question",
        })
    }
}

/// The fixed 12-byte DNS header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Transaction id.
    pub id: u16,
    /// Flags: QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode.
    pub flags: u16,
    /// Number of questions.
    pub qdcount: u16,
    /// Number of answer records.
    pub ancount: u16,
    /// Number of authority records.
    pub nscount: u16,
    /// Number of additional records.
    pub arcount: u16,
}

impl Header {
    /// Parses the header at the start of `msg` (the UDP payload).
    pub fn parse(msg: &[u8]) -> Result<Header, Error> {
        let h = msg.get(..HEADER_LEN).ok_or(Error::Truncated)?;
        let w = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
        Ok(Header {
            id: w(0),
            flags: w(2),
            qdcount: w(4),
            ancount: w(6),
            nscount: w(8),
            arcount: w(10),
        })
    }
    /// QR: this is a response.
    #[inline]
    pub fn is_response(&self) -> bool {
        self.flags & 0x8000 != 0
    }
    /// Opcode (0 = standard query).
    #[inline]
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xf) as u8
    }
    /// TC: the message was truncated.
    #[inline]
    pub fn truncated(&self) -> bool {
        self.flags & 0x0200 != 0
    }
    /// RD: recursion desired.
    #[inline]
    pub fn recursion_desired(&self) -> bool {
        self.flags & 0x0100 != 0
    }
    /// Response code.
    #[inline]
    pub fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }
}

/// A domain name in uncompressed wire form (length-prefixed labels ending in
/// a zero byte), validated: labels of at most 63 octets, at most 255 octets in
/// all.
///
/// `Display` prints the usual dotted form without the trailing dot (`.` for
/// the root), escaping `.` and `\` inside labels as `\.` and `\\` and bytes
/// outside printable ASCII as `\DDD` (decimal), so the text is always ASCII
/// and a label containing a dot cannot pass for two labels.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name<'a> {
    wire: &'a [u8],
}

impl<'a> Name<'a> {
    /// Parses an uncompressed name at `msg[off..]`; returns it and the offset
    /// just past it. A compression pointer is [`Error::Compressed`].
    pub fn parse(msg: &'a [u8], off: usize) -> Result<(Name<'a>, usize), Error> {
        let mut pos = off;
        loop {
            // Each iteration consumes at least one byte of at most 255.
            let len = usize::from(*msg.get(pos).ok_or(Error::Truncated)?);
            match len & 0xc0 {
                0 => {}
                0xc0 => return Err(Error::Compressed),
                _ => return Err(Error::BadLabel),
            }
            pos += 1 + len;
            if pos - off > MAX_NAME_LEN {
                return Err(Error::NameTooLong);
            }
            if len == 0 {
                break;
            }
            if pos > msg.len() {
                return Err(Error::Truncated);
            }
        }
        Ok((
            Name {
                wire: &msg[off..pos],
            },
            pos,
        ))
    }

    /// Builds a name from wire form, validating it like [`Name::parse`]; the
    /// whole slice must be the name.
    pub fn from_wire(wire: &'a [u8]) -> Result<Name<'a>, Error> {
        let (n, end) = Name::parse(wire, 0)?;
        if end != wire.len() {
            return Err(Error::BadLabel);
        }
        Ok(n)
    }

    /// The name in wire form, final zero byte included.
    #[inline]
    pub fn wire(&self) -> &'a [u8] {
        self.wire
    }

    /// Whether this is the root name (a single zero byte).
    #[inline]
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// The labels, from the leftmost (most specific) to the rightmost; the
    /// empty root label is not included.
    #[inline]
    pub fn labels(&self) -> Labels<'a> {
        Labels { rest: self.wire }
    }

    /// Number of labels (0 for the root).
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// Whether this name equals `suffix` or is below it, comparing whole
    /// labels, ASCII case-insensitively. `suffix` is a dotted name such as
    /// `"blocked.test"` (a trailing dot is allowed; `""` and `"."` are the
    /// root, of which every name is a subdomain). Labels of `suffix` are
    /// taken literally: no escapes.
    ///
    /// `a.blocked.test` and `blocked.test` are subdomains of `blocked.test`;
    /// `notblocked.test` is not.
    pub fn is_subdomain_of(&self, suffix: &str) -> bool {
        let suffix = suffix.strip_suffix('.').unwrap_or(suffix).as_bytes();
        if suffix.is_empty() {
            return true;
        }
        // One pass over the label starts, no iterator chains or splitting:
        // the labels from a label start on, written dotted, are as long as
        // their wire form minus its first length byte and the final zero.
        // Only the start where that equals `suffix` can match.
        let w = self.wire;
        let mut s = 0;
        while s + 1 < w.len() {
            let dotted = w.len() - s - 2;
            if dotted == suffix.len() {
                return labels_eq_dotted(&w[s..w.len() - 1], suffix);
            }
            if dotted < suffix.len() {
                return false;
            }
            s += 1 + usize::from(w[s]);
        }
        false
    }

    /// Whether this name equals `other` (dotted, trailing dot optional),
    /// ASCII case-insensitively.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        let other = other.strip_suffix('.').unwrap_or(other);
        self.label_count()
            == if other.is_empty() {
                0
            } else {
                other.split('.').count()
            }
            && self.is_subdomain_of(other)
    }
}

/// Whether wire-form labels (no final zero byte) equal the dotted `dotted`,
/// label for label, ASCII case-insensitively. A dot inside a wire label
/// never matches: in `dotted` a dot only separates labels.
fn labels_eq_dotted(mut wire: &[u8], dotted: &[u8]) -> bool {
    let mut j = 0;
    while let Some((&len, rest)) = wire.split_first() {
        let len = usize::from(len);
        if j != 0 {
            if dotted.get(j) != Some(&b'.') {
                return false;
            }
            j += 1;
        }
        let (Some(label), Some(want)) = (rest.get(..len), dotted.get(j..j + len)) else {
            return false;
        };
        for (&a, &b) in label.iter().zip(want) {
            if a == b'.' || !a.eq_ignore_ascii_case(&b) {
                return false;
            }
        }
        j += len;
        wire = &rest[len..];
    }
    j == dotted.len()
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for (i, label) in self.labels().enumerate() {
            if i != 0 {
                f.write_str(".")?;
            }
            // Write runs of plain bytes at once, escapes one by one.
            let mut start = 0;
            for (j, &b) in label.iter().enumerate() {
                let plain = (0x21..=0x7e).contains(&b) && b != b'.' && b != b'\\';
                if plain {
                    continue;
                }
                // The run holds printable ASCII only.
                f.write_str(core::str::from_utf8(&label[start..j]).unwrap_or(""))?;
                if b == b'.' || b == b'\\' {
                    write!(f, "\\{}", b as char)?;
                } else {
                    write!(f, "\\{:03}", b)?;
                }
                start = j + 1;
            }
            f.write_str(core::str::from_utf8(&label[start..]).unwrap_or(""))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

/// Iterator over the labels of a [`Name`].
#[derive(Clone, Debug)]
pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let len = usize::from(len);
        if len == 0 || tail.len() < len {
            self.rest = &[];
            return None;
        }
        let (label, rest) = tail.split_at(len);
        self.rest = rest;
        Some(label)
    }
}

/// One entry of the question section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    /// The queried name.
    pub name: Name<'a>,
    /// Query type (see [`qtype`], [`QType`]).
    pub qtype: u16,
    /// Query class (1 = IN).
    pub qclass: u16,
}

/// Parses the question at `msg[off..]`; returns it and the offset just past
/// it.
pub fn parse_question(msg: &[u8], off: usize) -> Result<(Question<'_>, usize), Error> {
    let (name, pos) = Name::parse(msg, off)?;
    let t = msg.get(pos..pos + 4).ok_or(Error::Truncated)?;
    let q = Question {
        name,
        qtype: u16::from_be_bytes([t[0], t[1]]),
        qclass: u16::from_be_bytes([t[2], t[3]]),
    };
    Ok((q, pos + 4))
}

/// Parses a query (`msg` is the UDP payload): the header, which must have QR
/// clear and at least one question, and the first question.
pub fn parse_query(msg: &[u8]) -> Result<(Header, Question<'_>), Error> {
    let h = Header::parse(msg)?;
    if h.is_response() {
        return Err(Error::NotQuery);
    }
    if h.qdcount == 0 {
        return Err(Error::NoQuestion);
    }
    let (q, _) = parse_question(msg, HEADER_LEN)?;
    Ok((h, q))
}

/// What a DNS filter makes of one packet: the classification that
/// `dns_parser` logs and counts, and that its bench twin (which does not
/// log) counts the same way. Both call [`inspect`], so they cannot drift
/// apart, and the eBPF and native C versions of the bench
/// (`guests/bench/c/filters.h`) mirror this function rule for rule.
#[derive(Clone, Copy, Debug)]
pub enum Inspection<'a> {
    /// Not a UDP datagram to port [`PORT`] whose UDP header is visible: not
    /// IP, another protocol, a non-first fragment, a truncated header.
    NotDns,
    /// A query (QR clear, at least one question) and its first question;
    /// `blocked` when the name is the blocked domain or below it.
    Query {
        /// The IP header (for the source address).
        ip: IpHeader<'a>,
        /// The first question.
        question: Question<'a>,
        /// Whether `question.name` is under the blocked domain.
        blocked: bool,
    },
    /// A UDP datagram to port [`PORT`] that is not a parseable query.
    Malformed {
        /// The IP header (for the source address).
        ip: IpHeader<'a>,
        /// Why [`parse_query`] refused it.
        error: Error,
    },
}

/// Classifies the packet `pkt` (from the IP header on, as
/// [`crate::host::load_packet`] returns it): is it a DNS query over UDP to
/// port 53, and is its name `blocked_domain` or below it
/// ([`Name::is_subdomain_of`])? DNS over TCP is not inspected.
pub fn inspect<'a>(pkt: &'a [u8], blocked_domain: &str) -> Inspection<'a> {
    let Some(ip) = IpHeader::parse(pkt) else {
        return Inspection::NotDns;
    };
    let udp = match ip.transport() {
        Some(l4) if ip.protocol() == proto::UDP => UdpHeader::parse(l4),
        _ => None,
    };
    let Some(udp) = udp.filter(|u| u.dst_port() == PORT) else {
        return Inspection::NotDns;
    };
    match parse_query(udp.payload()) {
        Ok((_, question)) => Inspection::Query {
            ip,
            question,
            blocked: question.name.is_subdomain_of(blocked_domain),
        },
        Err(error) => Inspection::Malformed { ip, error },
    }
}

/// Entries of the counter map [`Inspection::count`] updates:
/// `[queries, blocked, malformed, other]`.
pub mod counter {
    /// Parsed queries.
    pub const QUERIES: u32 = 0;
    /// Dropped packets: blocked queries and compressed questions.
    pub const BLOCKED: u32 = 1;
    /// UDP/53 datagrams that are not a parseable query.
    pub const MALFORMED: u32 = 2;
    /// Every other packet.
    pub const OTHER: u32 = 3;
    /// Entries of the counter map.
    pub const LEN: u32 = 4;
    /// Entries of the per-query-type map (entry 0 collects types above
    /// 255).
    pub const PER_QTYPE_LEN: u32 = 256;
}

impl Inspection<'_> {
    /// The verdict: drop queries for blocked names, and questions with a
    /// compression pointer (no client sends one, and it could hide a name);
    /// accept everything else, malformed queries included.
    pub fn verdict(&self) -> Verdict {
        match self {
            Inspection::Query { blocked: true, .. }
            | Inspection::Malformed {
                error: Error::Compressed,
                ..
            } => Verdict::Drop,
            _ => Verdict::Accept,
        }
    }

    /// Counts this packet in `counters` (see [`counter`]) and, for a query,
    /// its type in `per_qtype` (256 entries; entry 0 collects types above
    /// 255).
    pub fn count(&self, counters: Map, per_qtype: Map) {
        match self {
            Inspection::NotDns => {
                counters.incr(counter::OTHER);
            }
            Inspection::Query {
                question, blocked, ..
            } => {
                counters.incr(counter::QUERIES);
                let t = question.qtype;
                per_qtype.incr(if t < 256 { u32::from(t) } else { 0 });
                if *blocked {
                    counters.incr(counter::BLOCKED);
                }
            }
            Inspection::Malformed { error, .. } => {
                counters.incr(counter::MALFORMED);
                if *error == Error::Compressed {
                    counters.incr(counter::BLOCKED);
                }
            }
        }
    }
}

/// Common query types.
pub mod qtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Domain name pointer.
    pub const PTR: u16 = 12;
    /// Mail exchange.
    pub const MX: u16 = 15;
    /// Text.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service locator.
    pub const SRV: u16 = 33;
    /// Naming authority pointer.
    pub const NAPTR: u16 = 35;
    /// EDNS(0) pseudo-record.
    pub const OPT: u16 = 41;
    /// Delegation signer.
    pub const DS: u16 = 43;
    /// DNSSEC signature.
    pub const RRSIG: u16 = 46;
    /// DNSSEC key.
    pub const DNSKEY: u16 = 48;
    /// Service binding.
    pub const SVCB: u16 = 64;
    /// HTTPS service binding.
    pub const HTTPS: u16 = 65;
    /// Zone transfer.
    pub const AXFR: u16 = 252;
    /// Any type.
    pub const ANY: u16 = 255;
    /// Certification authority authorization.
    pub const CAA: u16 = 257;
}

/// The mnemonic of a query type, if it is one of [`qtype`].
pub fn qtype_name(t: u16) -> Option<&'static str> {
    use qtype::*;
    Some(match t {
        A => "A",
        NS => "NS",
        CNAME => "CNAME",
        SOA => "SOA",
        PTR => "PTR",
        MX => "MX",
        TXT => "TXT",
        AAAA => "AAAA",
        SRV => "SRV",
        NAPTR => "NAPTR",
        OPT => "OPT",
        DS => "DS",
        RRSIG => "RRSIG",
        DNSKEY => "DNSKEY",
        SVCB => "SVCB",
        HTTPS => "HTTPS",
        AXFR => "AXFR",
        ANY => "ANY",
        CAA => "CAA",
        _ => return None,
    })
}

/// A query type that displays as its mnemonic (`AAAA`) or, when unknown, as
/// `TYPE<n>` (RFC 3597).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QType(pub u16);

impl fmt::Display for QType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match qtype_name(self.0) {
            Some(s) => f.write_str(s),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::string::ToString;
    use std::vec::Vec;

    /// Encodes a dotted name (no escapes) in wire form.
    pub(crate) fn wire(name: &str) -> Vec<u8> {
        let mut w = Vec::new();
        for l in name.split('.').filter(|l| !l.is_empty()) {
            w.push(l.len() as u8);
            w.extend_from_slice(l.as_bytes());
        }
        w.push(0);
        w
    }

    /// A query message for `name`/`qtype`.
    pub(crate) fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&wire(name));
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m
    }

    #[test]
    fn parses_query() {
        let m = query("www.Example.com", qtype::AAAA);
        let (h, q) = parse_query(&m).unwrap();
        assert_eq!(h.id, 0xabcd);
        assert!(!h.is_response() && h.recursion_desired());
        assert_eq!(h.opcode(), 0);
        assert_eq!(h.qdcount, 1);
        assert_eq!(q.name.to_string(), "www.Example.com");
        assert_eq!(q.name.label_count(), 3);
        assert_eq!(q.qtype, qtype::AAAA);
        assert_eq!(q.qclass, 1);
        assert_eq!(QType(q.qtype).to_string(), "AAAA");
        assert_eq!(QType(4242).to_string(), "TYPE4242");
        let (_, end) = parse_question(&m, HEADER_LEN).unwrap();
        assert_eq!(end, m.len());
    }

    #[test]
    fn header_errors() {
        assert_eq!(parse_query(&[0; 11]), Err(Error::Truncated));
        let mut m = query("a.b", 1);
        m[2] |= 0x80;
        assert_eq!(parse_query(&m), Err(Error::NotQuery));
        let mut m = query("a.b", 1);
        m[5] = 0;
        assert_eq!(parse_query(&m), Err(Error::NoQuestion));
    }

    #[test]
    fn truncation_everywhere() {
        let m = query("host.blocked.test", qtype::A);
        for n in HEADER_LEN..m.len() {
            assert_eq!(parse_query(&m[..n]), Err(Error::Truncated), "cut at {n}");
        }
        assert!(parse_query(&m).is_ok());
    }

    #[test]
    fn root_name() {
        let m = query(".", qtype::NS);
        let (_, q) = parse_query(&m).unwrap();
        assert!(q.name.is_root());
        assert_eq!(q.name.to_string(), ".");
        assert_eq!(q.name.label_count(), 0);
        assert!(q.name.is_subdomain_of(""));
        assert!(!q.name.is_subdomain_of("test"));
    }

    #[test]
    fn label_limits() {
        let l63 = "a".repeat(63);
        let ok = [l63.as_str(); 3].join(".") + "." + &"b".repeat(61); // 64*3 + 62 + 1 = 255
        let w = wire(&ok);
        assert_eq!(w.len(), 255);
        assert!(Name::from_wire(&w).is_ok());
        let too_long = ok.clone() + "c";
        assert_eq!(
            Name::from_wire(&wire(&too_long)).err(),
            Some(Error::NameTooLong)
        );
        // 64-byte label: the length byte has type bits 01.
        let mut w = vec![64];
        w.extend_from_slice(&[b'x'; 64]);
        w.push(0);
        assert_eq!(Name::from_wire(&w).err(), Some(Error::BadLabel));
        assert_eq!(Name::from_wire(&[0x80, 0]).err(), Some(Error::BadLabel));
        assert_eq!(
            Name::from_wire(&[0xc0, 0x0c]).err(),
            Some(Error::Compressed)
        );
        // Name longer than 255 made of many short labels, in a long buffer:
        // stops at the limit, not at the end of the buffer.
        let many = [1u8, b'a'].repeat(200);
        assert_eq!(Name::parse(&many, 0).err(), Some(Error::NameTooLong));
        // Trailing bytes after the name are not part of from_wire's name.
        assert!(Name::from_wire(&[1, b'a', 0, 0]).is_err());
    }

    #[test]
    fn compression_in_question_is_rejected() {
        let mut m = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 0x00, 0, 1, 0, 1]);
        assert_eq!(parse_query(&m), Err(Error::Compressed));
    }

    /// The label-by-label definition `is_subdomain_of` implements in one
    /// pass: the last labels of the name equal the suffix's, split at dots.
    fn subdomain_by_labels(n: &Name<'_>, suffix: &str) -> bool {
        let suffix = suffix.strip_suffix('.').unwrap_or(suffix);
        if suffix.is_empty() {
            return true;
        }
        let (want, have) = (suffix.split('.').count(), n.label_count());
        want <= have
            && n.labels()
                .skip(have - want)
                .zip(suffix.split('.'))
                .all(|(a, b)| a.eq_ignore_ascii_case(b.as_bytes()))
    }

    #[test]
    fn subdomain_matches_the_label_definition() {
        let labels: [&[u8]; 8] = [
            b"a", b"B", b"blocked", b"BLOCKED", b"test", b"x.b", b".", b"ab",
        ];
        let suffixes = [
            "",
            ".",
            "a",
            "b",
            "test",
            "blocked.test",
            "Blocked.Test.",
            "a.b",
            "x.b",
            "x.b.test",
            ".test",
            "a..b",
            "b.",
            "ab.test",
            "a.blocked.test",
            "b.blocked.test",
        ];
        let mut checked = 0;
        // Every name of up to three labels drawn from `labels`.
        for n in 0..=3u32 {
            for mut k in 0..8usize.pow(n) {
                let mut w = Vec::new();
                for _ in 0..n {
                    let l = labels[k % 8];
                    w.push(l.len() as u8);
                    w.extend_from_slice(l);
                    k /= 8;
                }
                w.push(0);
                let name = Name::from_wire(&w).unwrap();
                for s in suffixes {
                    assert_eq!(
                        name.is_subdomain_of(s),
                        subdomain_by_labels(&name, s),
                        "{name} under {s:?}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, (1 + 8 + 64 + 512) * suffixes.len());
    }

    #[test]
    fn subdomains() {
        let n = wire("Host.BLOCKED.test");
        let n = Name::from_wire(&n).unwrap();
        assert!(n.is_subdomain_of("blocked.test"));
        assert!(n.is_subdomain_of("blocked.test."));
        assert!(n.is_subdomain_of("test"));
        assert!(n.is_subdomain_of("host.blocked.test"));
        assert!(n.is_subdomain_of("."));
        assert!(!n.is_subdomain_of("a.host.blocked.test"));
        assert!(!n.is_subdomain_of("locked.test"));
        assert!(n.eq_ignore_case("host.blocked.TEST."));
        assert!(!n.eq_ignore_case("blocked.test"));
        let w = wire("notblocked.test");
        assert!(!Name::from_wire(&w).unwrap().is_subdomain_of("blocked.test"));
        let w = wire("blocked.test");
        assert!(Name::from_wire(&w).unwrap().is_subdomain_of("blocked.test"));
        // A label containing a dot is one label, not two.
        let mut w = vec![9];
        w.extend_from_slice(b"x.blocked");
        w.extend_from_slice(&[4, b't', b'e', b's', b't', 0]);
        let n = Name::from_wire(&w).unwrap();
        assert_eq!(n.label_count(), 2);
        assert!(!n.is_subdomain_of("blocked.test"));
        assert_eq!(n.to_string(), "x\\.blocked.test");
    }

    #[test]
    fn escapes_unprintable_bytes() {
        let w = [3, b'a', 0, b'\\', 2, b' ', 0xff, 0];
        let n = Name::from_wire(&w).unwrap();
        assert_eq!(n.to_string(), "a\\000\\\\.\\032\\255");
        assert_eq!(format!("{n:?}"), "Name(a\\000\\\\.\\032\\255)");
    }

    #[test]
    fn inspect_classifies_and_counts() {
        use crate::host::Map;
        use crate::net::proto;
        use crate::net::tests::{ipv4, ipv6, udp};
        use crate::sys::mock;

        const BLOCKED: &str = "blocked.test";
        let q = |name: &str, t: u16| ipv4(proto::UDP, &udp(40000, PORT, &query(name, t)));
        let mut compressed = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        compressed.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
        let cases: [(&str, Vec<u8>, Verdict); 9] = [
            ("not ip", vec![0x12, 0x34], Verdict::Accept),
            (
                "example.com",
                q("www.example.com", qtype::A),
                Verdict::Accept,
            ),
            ("blocked", q("x.Blocked.TEST", 999), Verdict::Drop),
            (
                "v6 blocked",
                ipv6(
                    proto::UDP,
                    &udp(1, PORT, &query("blocked.test", qtype::AAAA)),
                ),
                Verdict::Drop,
            ),
            (
                "notblocked",
                q("notblocked.test", qtype::TXT),
                Verdict::Accept,
            ),
            (
                "compressed",
                ipv4(proto::UDP, &udp(1, PORT, &compressed)),
                Verdict::Drop,
            ),
            (
                "truncated",
                ipv4(proto::UDP, &udp(1, PORT, &query("blocked.test", 1)[..20])),
                Verdict::Accept,
            ),
            (
                "udp to 54",
                ipv4(proto::UDP, &udp(1, 54, &query("blocked.test", 1))),
                Verdict::Accept,
            ),
            (
                "tcp",
                ipv4(proto::TCP, &udp(1, PORT, &query("blocked.test", 1))),
                Verdict::Accept,
            ),
        ];
        mock::reset(&[]);
        for (what, pkt, want) in &cases {
            let i = inspect(pkt, BLOCKED);
            assert_eq!(i.verdict(), *want, "{what}");
            i.count(Map::new(0), Map::new(1));
        }
        assert!(matches!(
            inspect(&cases[5].1, BLOCKED),
            Inspection::Malformed {
                error: Error::Compressed,
                ..
            }
        ));
        mock::with(|h| {
            // [queries, blocked, malformed, other]
            assert_eq!(h.maps[0], [4, 3, 2, 3]);
            assert_eq!(
                (h.maps[1][1], h.maps[1][0], h.maps[1][28], h.maps[1][16]),
                (1, 1, 1, 1)
            );
        });
    }
}
