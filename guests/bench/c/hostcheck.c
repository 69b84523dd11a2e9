// SPDX-License-Identifier: GPL-2.0
/*
 * hostcheck.c: filters.h in userspace, for the differential test in
 * guests/tools/test.mjs, which runs the same packets through the kwasm
 * programs (on V8) and compares their verdicts and maps with these.
 *
 *   cc -O1 hostcheck.c -o hostcheck && ./hostcheck < packets
 *
 * stdin: packets, each a little-endian u16 length then that many bytes
 * (from the IP header on). stdout: one line per packet with the verdicts of
 * port_filter, packet_counter and dns ("0 1 1"), then the maps of those
 * three, in the order their kwasm programs declare them, one line each:
 * "FILTER MAP: v0 v1 ...".
 *
 * Every read of the packet copy is checked against the bytes actually
 * copied (not only the buffer), so a bounds slip in filters.h fails here
 * instead of reading stale bytes in a kernel.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;

#include "filter_defs.h"

static __u64 pf_counters[PF_COUNTERS_LEN];
static __u64 pc_packets[PC_PROTO_LEN], pc_bytes[PC_PROTO_LEN], pc_families[PC_FAMILIES_LEN];
static __u64 dns_counters[DNS_COUNTERS_LEN], dns_qtypes[DNS_QTYPES_LEN];
static __u64 *const maps[FILTER_NR_MAPS] = {
	[MAP_PF_COUNTERS] = pf_counters,   [MAP_PC_PACKETS] = pc_packets,
	[MAP_PC_BYTES] = pc_bytes,	   [MAP_PC_FAMILIES] = pc_families,
	[MAP_DNS_COUNTERS] = dns_counters, [MAP_DNS_QTYPES] = dns_qtypes,
};
static const unsigned map_len[FILTER_NR_MAPS] = {
	[MAP_PF_COUNTERS] = PF_COUNTERS_LEN,   [MAP_PC_PACKETS] = PC_PROTO_LEN,
	[MAP_PC_BYTES] = PC_PROTO_LEN,	       [MAP_PC_FAMILIES] = PC_FAMILIES_LEN,
	[MAP_DNS_COUNTERS] = DNS_COUNTERS_LEN, [MAP_DNS_QTYPES] = DNS_QTYPES_LEN,
};

/* Bytes copied for the running filter. */
static __u32 copied;
static unsigned long packet_no;

static void die(const char *what, unsigned a, unsigned b)
{
	fprintf(stderr, "hostcheck: packet %lu: %s %u (limit %u)\n", packet_no, what, a, b);
	exit(2);
}

static __u32 checked_idx(__u32 off, __u32 cap)
{
	if (off >= copied || copied > cap)
		die("read past the copied bytes at", off, copied);
	return off;
}

static void count(int map, __u32 idx, __u64 delta)
{
	if (idx >= map_len[map])
		die("map index", idx, map_len[map]);
	maps[map][idx] += delta;
}

#define FILTER_INLINE inline
#define FILTER_IDX(b, off, cap) checked_idx((off), (cap))
#define FILTER_COUNT(map, idx, delta) count((map), (idx), (delta))
#define FILTER_WANT_PORT_FILTER
#define FILTER_WANT_PACKET_COUNTER
#define FILTER_WANT_DNS
#include "filters.h"

static void print_map(const char *filter, int prog_map, const __u64 *v, unsigned n)
{
	printf("%s %d:", filter, prog_map);
	for (unsigned i = 0; i < n; i++)
		printf(" %llu", (unsigned long long)v[i]);
	printf("\n");
}

int main(void)
{
	static __u8 pkt[65536];
	__u8 small[FILTER_CAP_SMALL], big[FILTER_CAP_DNS];
	__u8 hdr[2];

	while (fread(hdr, 1, 2, stdin) == 2) {
		__u32 len = hdr[0] | (__u32)hdr[1] << 8;
		unsigned pf, pc, dns;

		if (fread(pkt, 1, len, stdin) != len)
			die("short packet of", len, 65535);
		packet_no++;
		/* host::load_packet: min(len, buffer) bytes. */
		copied = len < sizeof(small) ? len : sizeof(small);
		memcpy(small, pkt, copied);
		pf = filter_port_filter(small, copied);
		pc = filter_packet_counter(small, copied, len);
		copied = len < sizeof(big) ? len : sizeof(big);
		memcpy(big, pkt, copied);
		dns = filter_dns(big, copied);
		printf("%u %u %u\n", pf, pc, dns);
	}
	print_map("port_filter", 0, pf_counters, PF_COUNTERS_LEN);
	print_map("packet_counter", 0, pc_packets, PC_PROTO_LEN);
	print_map("packet_counter", 1, pc_bytes, PC_PROTO_LEN);
	print_map("packet_counter", 2, pc_families, PC_FAMILIES_LEN);
	print_map("dns", 0, dns_counters, DNS_COUNTERS_LEN);
	print_map("dns", 1, dns_qtypes, DNS_QTYPES_LEN);
	return 0;
}
