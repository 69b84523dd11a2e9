/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.bpf.h: what the eBPF programs of `kwasm bench` share: the netfilter
 * program context, the kfuncs that read the packet, counter maps as arrays
 * of u64 with atomic adds (kwasm's maps), and the copy of the packet's
 * first bytes that ../c/filters.h works on.
 *
 * Built with `clang-19 -target bpf -O2 -g` (cargo xtask payload); needs
 * only the UAPI headers and libbpf's bpf_helpers.h, not a vmlinux.h.
 */
#ifndef KWASM_BENCH_BPF_H
#define KWASM_BENCH_BPF_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/*
 * The context of a BPF_PROG_TYPE_NETFILTER program (include/net/netfilter/
 * nf_bpf_link.h); the verifier allows reading both pointers. At the IPv4 and
 * IPv6 hooks, and in BPF_PROG_TEST_RUN at LOCAL_OUT, skb->data is the IP
 * header, so the skb dynptr starts there: offset 0 is what kwasm's
 * pkt_load reads at offset 0.
 */
struct nf_hook_state;
struct sk_buff;
struct bpf_nf_ctx {
	const struct nf_hook_state *state;
	struct sk_buff *skb;
};

/* kfuncs (kernel 6.12). The skb is passed as the __sk_buff the kfunc
 * declares; the verifier matches it with the sk_buff of the context. */
extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags,
			       struct bpf_dynptr *ptr__uninit) __ksym;
extern __u32 bpf_dynptr_size(const struct bpf_dynptr *ptr) __ksym;

/* A counter map: `entries` u64s, as a kwasm map. */
#define BENCH_COUNTERS(name, entries)                                                              \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_ARRAY);                                                  \
		__uint(max_entries, entries);                                                      \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
	} name SEC(".maps")

/* kwasm's map_add: an atomic add (an array lookup, inlined by the JIT). */
static __always_inline void bench_add(void *map, __u32 idx, __u64 delta)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		__sync_fetch_and_add(v, delta);
}

/*
 * filters.h's FILTER_COUNT(MAP_X, idx, delta) adds to the map object that
 * the program names BENCH_MAP_MAP_X. A program defines its maps and those
 * names, then includes ../c/filters.h.
 */
#define FILTER_COUNT(map, idx, delta) bench_add((void *)&BENCH_MAP_##map, (idx), (delta))
#define FILTER_INLINE __always_inline

/*
 * The verifier must see every packet-copy offset bounded by the buffer.
 * filters.h checks each one against n <= cap, but the verifier loses that
 * through the header arithmetic, and clang drops a plain `& (cap - 1)` it
 * can prove redundant; the empty asm hides the value from clang so that the
 * mask stays. cap is a power of two.
 */
static __always_inline __u32 bench_idx(__u32 off, __u32 cap)
{
	asm volatile("" : "+r"(off));
	return off & (cap - 1);
}
/* Constant offsets (the fixed header fields) stay constants. */
#define FILTER_IDX(b, off, cap) (__builtin_constant_p(off) ? (off) : bench_idx((off), (cap)))

/*
 * kwasm's host::load_packet: copies min(packet length, cap) bytes from the
 * IP header on into buf and returns that count; *pkt_len is the packet's
 * length (the `filter` argument). A context without a readable skb is an
 * empty packet, as for kwasm.
 */
static __always_inline __u32 bench_load(struct bpf_nf_ctx *ctx, __u8 *buf, __u32 cap,
					__u32 *pkt_len)
{
	struct bpf_dynptr ptr;
	__u32 size, n;

	*pkt_len = 0;
	if (bpf_dynptr_from_skb((struct __sk_buff *)ctx->skb, 0, &ptr))
		return 0;
	size = bpf_dynptr_size(&ptr);
	n = size < cap ? size : cap;
	if (n == 0 || bpf_dynptr_read(buf, n, &ptr, 0, 0))
		return 0;
	*pkt_len = size;
	return n;
}

char LICENSE[] SEC("license") = "GPL";

#endif /* KWASM_BENCH_BPF_H */
