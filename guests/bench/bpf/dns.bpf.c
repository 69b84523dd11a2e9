// SPDX-License-Identifier: GPL-2.0
/*
 * dns: the eBPF twin of guests/bench/dns (dns_parser without logging):
 * parses DNS queries over UDP to port 53, drops those for blocked.test and
 * below and those whose question has a compression pointer; counters
 * [queries, blocked, malformed, other] and queries per type.
 */
#define FILTER_WANT_DNS
#include "bench.bpf.h"
#include "../c/filter_defs.h"

BENCH_COUNTERS(counters, DNS_COUNTERS_LEN);
BENCH_COUNTERS(qtypes, DNS_QTYPES_LEN);
#define BENCH_MAP_MAP_DNS_COUNTERS counters
#define BENCH_MAP_MAP_DNS_QTYPES qtypes

/*
 * The 512-byte packet copy: it cannot live on the 512-byte eBPF stack, so it
 * is this CPU's entry of a per-CPU array. (A hook running on this CPU can
 * be interrupted by a softirq running the same program at another hook, or,
 * with preemption, by another task: the copy would then be overwritten under
 * the first run's feet. kwasm's per-CPU instances have a busy flag for
 * that; here it is harmless for the bench, which runs one call at a time.)
 */
struct dns_buf {
	__u8 b[FILTER_CAP_DNS];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_buf);
} scratch SEC(".maps");
#include "../c/filters.h"

SEC("netfilter")
int dns(struct bpf_nf_ctx *ctx)
{
	__u32 zero = 0, len, n;
	struct dns_buf *buf = bpf_map_lookup_elem(&scratch, &zero);

	if (!buf)
		return FILTER_NF_ACCEPT;
	n = bench_load(ctx, buf->b, sizeof(buf->b), &len);
	return filter_dns(buf->b, n);
}
