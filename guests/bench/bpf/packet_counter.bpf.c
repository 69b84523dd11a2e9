// SPDX-License-Identifier: GPL-2.0
/*
 * packet_counter: the eBPF twin of guests/examples/packet_counter: counts
 * packets and bytes per IP protocol and packets per family; accepts all.
 */
#define FILTER_WANT_PACKET_COUNTER
#include "bench.bpf.h"
#include "../c/filter_defs.h"

BENCH_COUNTERS(packets, PC_PROTO_LEN);
BENCH_COUNTERS(bytes, PC_PROTO_LEN);
BENCH_COUNTERS(families, PC_FAMILIES_LEN);
#define BENCH_MAP_MAP_PC_PACKETS packets
#define BENCH_MAP_MAP_PC_BYTES bytes
#define BENCH_MAP_MAP_PC_FAMILIES families
#include "../c/filters.h"

SEC("netfilter")
int packet_counter(struct bpf_nf_ctx *ctx)
{
	__u8 buf[FILTER_CAP_SMALL] = {};
	__u32 len, n = bench_load(ctx, buf, sizeof(buf), &len);

	return filter_packet_counter(buf, n, len);
}
