/* SPDX-License-Identifier: GPL-2.0 */
/*
 * filter_defs.h: the constants of `kwasm bench`'s C filters (filters.h):
 * filter ids, how much of the packet each copies, and the layout of their
 * counter maps, which are those of the kwasm programs. No code and no
 * includes, so the eBPF programs can size their maps with it before they
 * include filters.h, and kwasm_native.h can use the ids.
 */
#ifndef KWASM_BENCH_FILTER_DEFS_H
#define KWASM_BENCH_FILTER_DEFS_H

#define FILTER_NF_DROP 0
#define FILTER_NF_ACCEPT 1

/* Filter ids, as native_bench.ko's ioctls and `kwasm bench --native` use them. */
enum filter_id {
	FILTER_ACCEPT = 0,
	FILTER_PORT_FILTER = 1,
	FILTER_PACKET_COUNTER = 2,
	FILTER_DNS = 3,
	FILTER_COUNT_IDS = 4,
};

/* How much of the packet each filter copies (its kwasm program's buffer). */
#define FILTER_CAP_SMALL 128 /* port_filter, packet_counter */
#define FILTER_CAP_DNS 512 /* dns */

/*
 * Counter maps, as the kwasm programs declare them (`maps!`), in
 * declaration order per program.
 */
enum filter_map {
	/* port_filter: map 0 [accepted, dropped] */
	MAP_PF_COUNTERS,
	/* packet_counter: map 0 packets per protocol, 1 bytes per protocol,
	 * 2 [ipv4, ipv6, not ip] */
	MAP_PC_PACKETS,
	MAP_PC_BYTES,
	MAP_PC_FAMILIES,
	/* dns: map 0 [queries, blocked, malformed, other], 1 per qtype */
	MAP_DNS_COUNTERS,
	MAP_DNS_QTYPES,
	FILTER_NR_MAPS,
};

#define PF_COUNTERS_LEN 2
#define PC_PROTO_LEN 256
#define PC_FAMILIES_LEN 3
#define DNS_COUNTERS_LEN 4
#define DNS_QTYPES_LEN 256

#define PF_ACCEPTED 0
#define PF_DROPPED 1
#define PC_FAMILY_V4 0
#define PC_FAMILY_V6 1
#define PC_FAMILY_OTHER 2
#define DNS_QUERIES 0
#define DNS_BLOCKED 1
#define DNS_MALFORMED 2
#define DNS_OTHER 3

/* IP protocol numbers (net.rs `proto`). */
#define FP_HOPOPT 0
#define FP_TCP 6
#define FP_UDP 17
#define FP_IPV6_ROUTE 43
#define FP_IPV6_FRAG 44
#define FP_ESP 50
#define FP_AH 51
#define FP_IPV6_NONXT 59
#define FP_IPV6_OPTS 60
#define FP_SCTP 132
#define FP_UDPLITE 136

/* Ipv6Header::MAX_EXT_HEADERS */
#define FILTER_IPV6_MAX_EXT 8

#endif /* KWASM_BENCH_FILTER_DEFS_H */
