// SPDX-License-Identifier: GPL-2.0
/*
 * port_filter: the eBPF twin of guests/examples/port_filter: drops UDP to
 * port 9999 (IPv4, IPv6 through extension headers); map counters
 * [accepted, dropped].
 */
#define FILTER_WANT_PORT_FILTER
#include "bench.bpf.h"
#include "../c/filter_defs.h"

BENCH_COUNTERS(counters, PF_COUNTERS_LEN);
#define BENCH_MAP_MAP_PF_COUNTERS counters
#include "../c/filters.h"

SEC("netfilter")
int port_filter(struct bpf_nf_ctx *ctx)
{
	/* On the stack and zeroed: see filters.h. */
	__u8 buf[FILTER_CAP_SMALL] = {};
	__u32 len, n = bench_load(ctx, buf, sizeof(buf), &len);

	return filter_port_filter(buf, n);
}
