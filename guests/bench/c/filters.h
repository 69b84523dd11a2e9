/* SPDX-License-Identifier: GPL-2.0 */
/*
 * filters.h: the four filters of `kwasm bench` in C, written once, for the
 * eBPF programs (../bpf/\*.bpf.c) and the native module
 * (../native/native_bench.c).
 *
 * Each filter has exactly the semantics of its kwasm program, so that the
 * three runners agree on every packet, in verdicts and in map updates:
 *
 *   accept          wat/accept.wat             accept everything
 *   port_filter     examples/port_filter       drop UDP to port 9999
 *   packet_counter  examples/packet_counter    count per protocol/family
 *   dns             bench/dns_filter (dns_parser without logging)
 *
 * The logic mirrors the SDK's sdk/src/net.rs and sdk/src/dns.rs rule for
 * rule (the comments name the Rust each piece mirrors). Like the kwasm
 * programs, the filters work on a copy of the packet's first bytes, from
 * the IP header on: b[0..n) with n = min(packet length, cap), cap being
 * 128 bytes (port_filter, packet_counter) or 512 (dns), the sizes of the
 * programs' `host::load_packet` buffers. The caller makes the copy
 * (skb_copy_bits in the module, bpf_dynptr_read in eBPF).
 *
 * The constants (filter ids, buffer sizes, map layouts) are in
 * filter_defs.h, which includes nothing and is included first.
 *
 * The includer provides, before including this file:
 *
 *   __u8, __u16, __u32, __u64     (linux/types.h)
 *   FILTER_INLINE                 how helpers are declared (always inline)
 *   FILTER_COUNT(map, idx, delta) atomically add delta to entry idx of the
 *                                 counter map `map` (an enum filter_map
 *                                 constant; idx is always in range)
 *   FILTER_WANT_<NAME>            (ACCEPT, PORT_FILTER, PACKET_COUNTER,
 *                                 DNS) for each filter it wants: only
 *                                 those are defined, so an eBPF object
 *                                 defines only its own filter's maps
 *   FILTER_IDX(b, off, cap)       the index used to read b[off] once the
 *                                 code has checked off < n <= cap: the
 *                                 module uses off as it is; eBPF masks it
 *                                 with cap - 1 (a no-op on those values)
 *                                 behind a compiler barrier, because the
 *                                 verifier must see every offset bounded
 *                                 by the buffer on its own (see below)
 *
 * What the eBPF verifier made this code do (the findings of the
 * comparison, also in docs/performance.md):
 *
 * - Every read of the packet copy goes through FILTER_IDX, a mask after a
 *   compiler barrier. The code already checks each offset against n, and
 *   n <= cap, but the verifier does not carry "off < n, n <= cap" through
 *   the arithmetic of a header walk, and clang deletes a plain mask that
 *   it can prove redundant. Native code and kwasm need neither (kwasm's
 *   bounds check is the Rust slice check, compiled to one compare).
 * - Loops have a constant trip count the verifier can see: the IPv6
 *   extension-header walk at most 8 headers (as net.rs), the DNS name at
 *   most 128 labels. 128 is not a cap that changes the semantics: every
 *   label but the last takes at least 2 bytes, so the 128th label always
 *   ends past 255 bytes and the name is refused as too long anyway. The
 *   verifier walks every iteration of these loops (each DNS label
 *   iteration is verified separately), which is where its time goes.
 * - The dns program verified only once its offsets stopped being
 *   "precise" (see dns.bpf.c): adding a scalar to a pointer makes the
 *   verifier trace that scalar back through everything that computed it,
 *   and precise values that differ keep states apart, so every path of the
 *   header walk times every label of the name was verified on its own and
 *   the program hit the limit of one million instructions. dns.bpf.c
 *   passes each offset through an untracked per-CPU slot before the mask
 *   (a store and a load per byte read); then it verifies in about 15000.
 * - The name check is done during the one pass over the labels (the Rust
 *   iterates again, in Name::is_subdomain_of), remembering where the last
 *   two labels start; both compare the same bytes the same way.
 * - The 512-byte copy for dns does not fit in eBPF's 512-byte stack, so the
 *   eBPF program keeps it in a one-entry per-CPU array map: one more map
 *   lookup per packet. The 128-byte copies of the other filters are on the
 *   eBPF stack, zeroed first, because the verifier refuses variable-offset
 *   reads of stack bytes that might be uninitialised. The kwasm programs
 *   do not zero theirs (the SDK's PacketBuf: the sandbox only lets them
 *   read the bytes the host wrote); the module does not ask to, but a
 *   kernel built with CONFIG_INIT_STACK_ALL_ZERO, as the VM's is, zeroes
 *   them anyway.
 */
#ifndef KWASM_BENCH_FILTERS_H
#define KWASM_BENCH_FILTERS_H

#include "filter_defs.h"

/* b[off], off < n <= cap checked by the caller. */
#define FB(b, off, cap) ((__u32)(b)[FILTER_IDX((b), (__u32)(off), (cap))])
/* big-endian u16 at off, off + 2 <= n <= cap checked by the caller. */
#define FBE16(b, off, cap) ((FB(b, off, cap) << 8) | FB(b, (off) + 1, cap))

static FILTER_INLINE __u32 filter_min(__u32 a, __u32 b)
{
	return a < b ? a : b;
}

/* A parsed IP header: net.rs IpHeader with protocol() and transport(). */
struct filter_ip {
	__u32 version; /* 4 or 6 */
	__u32 proto; /* IpHeader::protocol() */
	__u32 has_l4; /* IpHeader::transport() is Some ... */
	__u32 l4; /* ... b[l4..l4_end) */
	__u32 l4_end;
};

/*
 * Ipv6Header::upper() over the datagram b[0..dlen): the upper-layer
 * protocol, and its header's offset if it is in the packet.
 */
static FILTER_INLINE void filter_ipv6_upper(const __u8 *b, __u32 dlen, __u32 cap,
					    struct filter_ip *ip)
{
	__u32 nh = FB(b, 6, cap);
	__u32 off = 40;
	__u32 len, i;

	for (i = 0; i < FILTER_IPV6_MAX_EXT; i++) {
		if (nh == FP_HOPOPT || nh == FP_IPV6_ROUTE || nh == FP_IPV6_OPTS) {
			if (off + 1 >= dlen)
				break;
			len = (FB(b, off + 1, cap) + 1) * 8;
		} else if (nh == FP_AH) {
			if (off + 1 >= dlen)
				break;
			len = (FB(b, off + 1, cap) + 2) * 4;
		} else if (nh == FP_IPV6_FRAG) {
			if (off + 4 > dlen)
				break;
			/* Offset in 8-byte units, in the top 13 bits: a
			 * non-first fragment has no upper-layer header. */
			if (FBE16(b, off + 2, cap) >> 3) {
				ip->proto = FB(b, off, cap);
				return;
			}
			len = 8;
		} else if (nh == FP_ESP || nh == FP_IPV6_NONXT) {
			break;
		} else {
			ip->proto = nh;
			/* data.get(off..): off <= dlen holds here. */
			ip->has_l4 = off <= dlen;
			ip->l4 = off;
			ip->l4_end = dlen;
			return;
		}
		if (off + len > dlen)
			break;
		nh = FB(b, off, cap);
		off += len;
	}
	ip->proto = nh;
}

/*
 * IpHeader::parse(b[0..n)): 0 if the packet is not IPv4/IPv6 with a valid
 * header; else 1 with *ip filled (protocol and transport slice).
 */
static FILTER_INLINE int filter_ip_parse(const __u8 *b, __u32 n, __u32 cap, struct filter_ip *ip)
{
	__u32 v, hl, tl, end, pl, dlen;

	ip->version = 0;
	ip->proto = 0;
	ip->has_l4 = 0;
	ip->l4 = 0;
	ip->l4_end = 0;
	if (n < 1)
		return 0;
	v = FB(b, 0, cap) >> 4;
	if (v == 4) {
		/* Ipv4Header::parse */
		hl = (FB(b, 0, cap) & 0x0f) * 4;
		if (hl < 20 || n < hl)
			return 0;
		tl = FBE16(b, 2, cap);
		if (tl != 0 && tl < hl)
			return 0;
		ip->version = 4;
		ip->proto = FB(b, 9, cap);
		/* transport(): none in a non-first fragment; else payload() */
		if ((FBE16(b, 6, cap) & 0x1fff) == 0) {
			end = tl == 0 ? n : filter_min(tl, n);
			ip->has_l4 = 1;
			ip->l4 = hl;
			ip->l4_end = end < hl ? hl : end;
		}
		return 1;
	}
	if (v == 6) {
		/* Ipv6Header::parse, datagram(), upper() */
		if (n < 40)
			return 0;
		ip->version = 6;
		pl = FBE16(b, 4, cap);
		dlen = pl == 0 ? n : filter_min(40 + pl, n);
		filter_ipv6_upper(b, dlen, cap, ip);
		return 1;
	}
	return 0;
}

/* net::ports(): (src, dst) of TCP/UDP/UDP-Lite/SCTP, if visible. */
static FILTER_INLINE int filter_dst_port(const __u8 *b, __u32 cap, const struct filter_ip *ip,
					 __u32 *dport)
{
	if (ip->proto != FP_TCP && ip->proto != FP_UDP && ip->proto != FP_UDPLITE &&
	    ip->proto != FP_SCTP)
		return 0;
	if (!ip->has_l4 || ip->l4_end - ip->l4 < 4)
		return 0;
	*dport = FBE16(b, ip->l4 + 2, cap);
	return 1;
}

#ifdef FILTER_WANT_ACCEPT
/* accept (wat/accept.wat). */
static FILTER_INLINE unsigned int filter_accept(void)
{
	return FILTER_NF_ACCEPT;
}
#endif

#ifdef FILTER_WANT_PORT_FILTER
/* port_filter (examples/port_filter): b[0..n), n <= FILTER_CAP_SMALL. */
static FILTER_INLINE unsigned int filter_port_filter(const __u8 *b, __u32 n)
{
	const __u32 cap = FILTER_CAP_SMALL;
	struct filter_ip ip;
	unsigned int v = FILTER_NF_ACCEPT;
	__u32 dport = 0;

	if (filter_ip_parse(b, n, cap, &ip) && ip.proto == FP_UDP &&
	    filter_dst_port(b, cap, &ip, &dport) && dport == 9999)
		v = FILTER_NF_DROP;
	FILTER_COUNT(MAP_PF_COUNTERS, v == FILTER_NF_DROP ? PF_DROPPED : PF_ACCEPTED, 1);
	return v;
}
#endif

#ifdef FILTER_WANT_PACKET_COUNTER
/*
 * packet_counter (examples/packet_counter): b[0..n), n <= FILTER_CAP_SMALL;
 * pkt_len is the whole packet's length (the `filter` argument), counted in
 * bytes per protocol.
 */
static FILTER_INLINE unsigned int filter_packet_counter(const __u8 *b, __u32 n, __u32 pkt_len)
{
	struct filter_ip ip;

	if (filter_ip_parse(b, n, FILTER_CAP_SMALL, &ip)) {
		__u32 proto = ip.proto & 0xff;

		FILTER_COUNT(MAP_PC_FAMILIES, ip.version == 4 ? PC_FAMILY_V4 : PC_FAMILY_V6, 1);
		FILTER_COUNT(MAP_PC_PACKETS, proto, 1);
		FILTER_COUNT(MAP_PC_BYTES, proto, pkt_len);
	} else {
		FILTER_COUNT(MAP_PC_FAMILIES, PC_FAMILY_OTHER, 1);
	}
	return FILTER_NF_ACCEPT;
}
#endif

#ifdef FILTER_WANT_DNS
/* dns.rs `Error`, and success. */
enum filter_dns_result {
	DNS_OK,
	DNS_TRUNCATED,
	DNS_NAME_TOO_LONG,
	DNS_BAD_LABEL,
	DNS_COMPRESSED,
	DNS_NOT_QUERY,
	DNS_NO_QUESTION,
};

/* dns.rs HEADER_LEN, MAX_NAME_LEN */
#define FILTER_DNS_HEADER_LEN 12
#define FILTER_DNS_MAX_NAME 255
/* Most labels a name under MAX_NAME_LEN can have, plus one (see above). */
#define FILTER_DNS_MAX_LABELS 128

/*
 * Whether the label whose length byte is at b[at] is `want` (wlen bytes,
 * lowercase letters), ASCII case-insensitively ([u8]::eq_ignore_ascii_case;
 * for a letter, c | 0x20 is its lowercase and no other byte maps to it).
 * The label lies within the message, which lies within b[0..n).
 */
static FILTER_INLINE int filter_label_is(const __u8 *b, __u32 at, const char *want, __u32 wlen)
{
	__u32 i;

	if (FB(b, at, FILTER_CAP_DNS) != wlen)
		return 0;
	for (i = 0; i < wlen; i++)
		if ((FB(b, at + 1 + i, FILTER_CAP_DNS) | 0x20) != (__u8)want[i])
			return 0;
	return 1;
}

/*
 * dns::parse_query on the message b[m..m_end), with the question's name
 * checked against "blocked.test" (Name::is_subdomain_of) on the way.
 */
static FILTER_INLINE enum filter_dns_result filter_dns_query(const __u8 *b, __u32 m, __u32 m_end,
							     __u32 *qtype, int *blocked)
{
	const __u32 cap = FILTER_CAP_DNS;
	__u32 mlen = m_end - m;
	__u32 pos = FILTER_DNS_HEADER_LEN;
	__u32 last = 0, prev = 0, labels = 0;
	__u32 len, start, i;

	/* Header::parse, is_response, qdcount */
	if (mlen < FILTER_DNS_HEADER_LEN)
		return DNS_TRUNCATED;
	if (FB(b, m + 2, cap) & 0x80)
		return DNS_NOT_QUERY;
	if (FBE16(b, m + 4, cap) == 0)
		return DNS_NO_QUESTION;
	/* Name::parse(msg, 12) */
	for (i = 0; i < FILTER_DNS_MAX_LABELS; i++) {
		if (pos >= mlen)
			return DNS_TRUNCATED;
		len = FB(b, m + pos, cap);
		if ((len & 0xc0) == 0xc0)
			return DNS_COMPRESSED;
		if (len & 0xc0)
			return DNS_BAD_LABEL;
		start = pos;
		pos += 1 + len;
		if (pos - FILTER_DNS_HEADER_LEN > FILTER_DNS_MAX_NAME)
			return DNS_NAME_TOO_LONG;
		if (len == 0)
			goto name_done;
		if (pos > mlen)
			return DNS_TRUNCATED;
		prev = last;
		last = start;
		labels++;
	}
	/* Not reached: the 128th label ends past 255 bytes (see above). */
	return DNS_NAME_TOO_LONG;
name_done:
	/* parse_question: type and class */
	if (pos + 4 > mlen)
		return DNS_TRUNCATED;
	*qtype = FBE16(b, m + pos, cap);
	/* is_subdomain_of("blocked.test"): the last two labels */
	*blocked = labels >= 2 && filter_label_is(b, m + prev, "blocked", 7) &&
		   filter_label_is(b, m + last, "test", 4);
	return DNS_OK;
}

/* dns (bench/dns_filter, i.e. dns::inspect + count + verdict): b[0..n), n <= FILTER_CAP_DNS. */
static FILTER_INLINE unsigned int filter_dns(const __u8 *b, __u32 n)
{
	const __u32 cap = FILTER_CAP_DNS;
	struct filter_ip ip;
	__u32 u, avail, ulen, end, qtype = 0;
	int blocked = 0;
	enum filter_dns_result r;

	/* inspect(): IP, UDP header visible, destination port 53 */
	if (!filter_ip_parse(b, n, cap, &ip) || ip.proto != FP_UDP || !ip.has_l4 ||
	    ip.l4_end - ip.l4 < 8 || FBE16(b, ip.l4 + 2, cap) != 53) {
		FILTER_COUNT(MAP_DNS_COUNTERS, DNS_OTHER, 1);
		return FILTER_NF_ACCEPT;
	}
	/* UdpHeader::payload(): up to the length field or the visible end */
	u = ip.l4;
	avail = ip.l4_end - u;
	ulen = FBE16(b, u + 4, cap);
	end = ulen < 8 ? avail : filter_min(ulen, avail);
	r = filter_dns_query(b, u + 8, u + end, &qtype, &blocked);
	/* Inspection::count, Inspection::verdict */
	if (r == DNS_OK) {
		FILTER_COUNT(MAP_DNS_COUNTERS, DNS_QUERIES, 1);
		FILTER_COUNT(MAP_DNS_QTYPES, qtype < 256 ? qtype : 0, 1);
		if (blocked) {
			FILTER_COUNT(MAP_DNS_COUNTERS, DNS_BLOCKED, 1);
			return FILTER_NF_DROP;
		}
		return FILTER_NF_ACCEPT;
	}
	FILTER_COUNT(MAP_DNS_COUNTERS, DNS_MALFORMED, 1);
	if (r == DNS_COMPRESSED) {
		FILTER_COUNT(MAP_DNS_COUNTERS, DNS_BLOCKED, 1);
		return FILTER_NF_DROP;
	}
	return FILTER_NF_ACCEPT;
}
#endif /* FILTER_WANT_DNS */

#endif /* KWASM_BENCH_FILTERS_H */
