/*
 * port_filter.c: drops UDP datagrams to destination port 9999 (IPv4 and
 * IPv6, through IPv6 extension headers), accepts everything else; the C
 * twin of guests/examples/port_filter (Rust), with the same map.
 *
 * Map 0, 2 entries: [accepted, dropped].
 */
#include "kwasm.h"

KWASM_MAPS(KWASM_ARRAY(2));
enum { COUNTERS };
enum { ACCEPTED, DROPPED };

#define BLOCKED_PORT 9999

static kwasm_verdict verdict(const uint8_t *b, uint32_t n)
{
	struct kwasm_ip ip;
	if (!kwasm_ip_parse(b, n, &ip) || ip.proto != KWASM_PROTO_UDP)
		return KWASM_ACCEPT;
	return kwasm_dst_port(b, &ip) == BLOCKED_PORT ? KWASM_DROP : KWASM_ACCEPT;
}

static kwasm_verdict port_filter(uint32_t len)
{
	(void)len;
	/* The IPv6 header, a few extension headers and the UDP ports. */
	uint8_t b[128];
	uint32_t n = kwasm_pkt_load(0, b, sizeof b);
	kwasm_verdict v = verdict(b, n);
	kwasm_map_add(COUNTERS, v == KWASM_DROP ? DROPPED : ACCEPTED, 1);
	return v;
}

KWASM_FILTER(port_filter)
