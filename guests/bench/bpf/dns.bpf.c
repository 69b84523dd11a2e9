// SPDX-License-Identifier: GPL-2.0
/*
 * dns: the eBPF twin of guests/bench/dns_filter (dns_parser without logging):
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
	/* dns_idx's slot: right after the copy, at b + FILTER_CAP_DNS. */
	__u32 slot;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_buf);
} scratch SEC(".maps");

/*
 * The verifier finding of this program. Adding a scalar to a pointer makes
 * the verifier mark that scalar "precise" and trace it back through every
 * instruction that computed it: here the DNS name position, the UDP and IP
 * header offsets, the IPv6 extension-header walk. Precise values that
 * differ keep verifier states apart, so every way through the header walk
 * times every label of the name is verified separately: with the plain
 * masked index (bench_idx), this program stops at the verifier's limit of
 * one million instructions ("BPF program is too large"), although each
 * path is short and every access is in bounds.
 *
 * So each variable offset makes a round trip through memory the verifier
 * does not track, a slot of this CPU's scratch value, before the mask: the
 * loaded value is an unknown scalar, the precision trace stops there, and
 * the states of different paths merge again. It costs a store and a load
 * per byte read, and it exists only for the verifier.
 */
static __always_inline __u32 dns_idx(const __u8 *b, __u32 off, __u32 cap)
{
	volatile __u32 *slot = (volatile __u32 *)(unsigned long)(b + cap);

	*slot = off;
	return *slot & (cap - 1);
}
#undef FILTER_IDX
#define FILTER_IDX(b, off, cap) (__builtin_constant_p(off) ? (off) : dns_idx((b), (off), (cap)))

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
