// SPDX-License-Identifier: GPL-2.0
/*
 * native_bench.ko: the native C baseline of `kwasm bench`: the filters of
 * ../c/filters.h (the same logic as the kwasm programs and the eBPF
 * programs) as plain kernel C, without any sandbox.
 *
 * /dev/kwasm-native (root only) has three ioctls (kwasm_native.h):
 * - RUN times `count` calls of a filter on one packet, the way BENCH times
 *   a kwasm program: an skb built once, bottom halves disabled, sched_clock.
 *   Batching, yielding between batches and statistics are userspace's
 *   (cli/src/native.rs), one RUN per batch, so this module stays small.
 * - ATTACH/DETACH register a filter as a real netfilter hook, for the hook
 *   path measurement; `accept` is the empty hook that measures the floor.
 * - MAP reads a filter's counters (atomic64 arrays, as kwasm's maps).
 *
 * Each filter is a noinline function of the netfilter hook type, called
 * through a pointer both by RUN and by netfilter, so that RUN times what a
 * hook costs: the call, the copy of the packet's first bytes
 * (skb_copy_bits, as kwasm's pkt_load) and the filter.
 */
#include <linux/atomic.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/netfilter.h>
#include <linux/nospec.h>
#include <linux/sched/clock.h>
#include <linux/skbuff.h>
#include <linux/uaccess.h>
#include <net/net_namespace.h>

#include "kwasm_native.h"
#include "filter_defs.h"

/* Counters: one atomic64 array per map of each kwasm program. */
static atomic64_t pf_counters[PF_COUNTERS_LEN];
static atomic64_t pc_packets[PC_PROTO_LEN];
static atomic64_t pc_bytes[PC_PROTO_LEN];
static atomic64_t pc_families[PC_FAMILIES_LEN];
static atomic64_t dns_counters[DNS_COUNTERS_LEN];
static atomic64_t dns_qtypes[DNS_QTYPES_LEN];

static atomic64_t *const native_maps[FILTER_NR_MAPS] = {
	[MAP_PF_COUNTERS] = pf_counters,	[MAP_PC_PACKETS] = pc_packets,
	[MAP_PC_BYTES] = pc_bytes,		[MAP_PC_FAMILIES] = pc_families,
	[MAP_DNS_COUNTERS] = dns_counters,	[MAP_DNS_QTYPES] = dns_qtypes,
};

/* kwasm's map_add is an atomic add; filters.h's indexes are in range. */
#define FILTER_COUNT(map, idx, delta) atomic64_add((delta), &native_maps[map][idx])
#define FILTER_INLINE __always_inline
/* Plain C: offsets checked against n are used as they are. */
#define FILTER_IDX(b, off, cap) ((void)(cap), (off))
#define FILTER_WANT_ACCEPT
#define FILTER_WANT_PORT_FILTER
#define FILTER_WANT_PACKET_COUNTER
#define FILTER_WANT_DNS
#include "filters.h"

/*
 * kwasm's pkt_len and host::load_packet: the packet from its network header
 * on; copies min(length, cap) bytes into buf (a failed copy is an empty
 * packet, as pkt_load returning 0).
 */
static __always_inline u32 native_load(const struct sk_buff *skb, u8 *buf, u32 cap, u32 *pkt_len)
{
	int off = skb_network_offset(skb);
	u32 len = skb->len - off;
	u32 n = min(len, cap);

	*pkt_len = len;
	if (n && skb_copy_bits(skb, off, buf, n) < 0)
		return 0;
	return n;
}

static noinline unsigned int native_accept(void *priv, struct sk_buff *skb,
					   const struct nf_hook_state *state)
{
	return filter_accept();
}

static noinline unsigned int native_port_filter(void *priv, struct sk_buff *skb,
						const struct nf_hook_state *state)
{
	u8 buf[FILTER_CAP_SMALL];
	u32 len, n = native_load(skb, buf, sizeof(buf), &len);

	return filter_port_filter(buf, n);
}

static noinline unsigned int native_packet_counter(void *priv, struct sk_buff *skb,
						   const struct nf_hook_state *state)
{
	u8 buf[FILTER_CAP_SMALL];
	u32 len, n = native_load(skb, buf, sizeof(buf), &len);

	return filter_packet_counter(buf, n, len);
}

static noinline unsigned int native_dns(void *priv, struct sk_buff *skb,
					const struct nf_hook_state *state)
{
	u8 buf[FILTER_CAP_DNS];
	u32 len, n = native_load(skb, buf, sizeof(buf), &len);

	return filter_dns(buf, n);
}

static nf_hookfn *const native_filters[FILTER_COUNT_IDS] = {
	[FILTER_ACCEPT] = native_accept,
	[FILTER_PORT_FILTER] = native_port_filter,
	[FILTER_PACKET_COUNTER] = native_packet_counter,
	[FILTER_DNS] = native_dns,
};

/* Each filter's maps, numbered as its kwasm program numbers them. */
struct native_map {
	atomic64_t *v;
	u32 len;
};

static const struct native_map filter_maps[FILTER_COUNT_IDS][3] = {
	[FILTER_PORT_FILTER] = { { pf_counters, PF_COUNTERS_LEN } },
	[FILTER_PACKET_COUNTER] = { { pc_packets, PC_PROTO_LEN },
				    { pc_bytes, PC_PROTO_LEN },
				    { pc_families, PC_FAMILIES_LEN } },
	[FILTER_DNS] = { { dns_counters, DNS_COUNTERS_LEN }, { dns_qtypes, DNS_QTYPES_LEN } },
};

static long native_run(struct kwasm_native_run __user *arg)
{
	struct nf_hook_state state = { .hook = NF_INET_LOCAL_OUT, .net = &init_net };
	struct kwasm_native_run req;
	unsigned int v = NF_ACCEPT;
	u64 t0, t1, accepts = 0, drops = 0;
	struct sk_buff *skb;
	nf_hookfn *fn;
	u32 i;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.filter >= FILTER_COUNT_IDS || req.len < KWASM_NATIVE_MIN_PACKET || req.count == 0)
		return -EINVAL;
	if (req.len > KWASM_NATIVE_MAX_PACKET || req.count > KWASM_NATIVE_MAX_COUNT)
		return -E2BIG;
	fn = native_filters[array_index_nospec(req.filter, FILTER_COUNT_IDS)];

	/* The packet, as kwasm's BENCH builds it: network header first. */
	skb = alloc_skb(req.len, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	skb_reset_network_header(skb);
	if (copy_from_user(skb_put(skb, req.len), u64_to_user_ptr(req.packet), req.len)) {
		kfree_skb(skb);
		return -EFAULT;
	}
	state.pf = (skb->data[0] >> 4) == 6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	local_bh_disable();
	t0 = sched_clock();
	for (i = 0; i < req.count; i++) {
		v = fn(NULL, skb, &state);
		if (v == NF_DROP)
			drops++;
		else
			accepts++;
	}
	t1 = sched_clock();
	local_bh_enable();
	consume_skb(skb);

	req.verdict = v;
	req.ns = t1 - t0;
	req.accepts = accepts;
	req.drops = drops;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

/* Attached hooks; `attached[i]` says whether hooks[i] is registered. */
static struct nf_hook_ops hooks[KWASM_NATIVE_MAX_ATTACH];
static struct kwasm_native_attach hook_args[KWASM_NATIVE_MAX_ATTACH];
static bool attached[KWASM_NATIVE_MAX_ATTACH];
static DEFINE_MUTEX(hooks_lock);

static int hook_find(const struct kwasm_native_attach *a)
{
	int i;

	for (i = 0; i < KWASM_NATIVE_MAX_ATTACH; i++)
		if (attached[i] && !memcmp(&hook_args[i], a, sizeof(*a)))
			return i;
	return -1;
}

/* Unregisters hooks[i] and waits until no CPU runs it any more. */
static void hook_remove(int i)
{
	nf_unregister_net_hook(&init_net, &hooks[i]);
	/* Netfilter does not wait for hooks running on other CPUs. */
	synchronize_net();
	attached[i] = false;
}

static long native_attach(struct kwasm_native_attach __user *arg, bool detach)
{
	struct kwasm_native_attach a;
	int i, ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.filter >= FILTER_COUNT_IDS || a.hooknum >= NF_INET_NUMHOOKS ||
	    (a.family != NFPROTO_IPV4 && a.family != NFPROTO_IPV6))
		return -EINVAL;

	mutex_lock(&hooks_lock);
	i = hook_find(&a);
	if (detach) {
		ret = i < 0 ? -ENOENT : 0;
		if (i >= 0)
			hook_remove(i);
		goto out;
	}
	ret = -EEXIST;
	if (i >= 0)
		goto out;
	for (i = 0; i < KWASM_NATIVE_MAX_ATTACH && attached[i]; i++)
		;
	ret = -ENOSPC;
	if (i == KWASM_NATIVE_MAX_ATTACH)
		goto out;
	hooks[i] = (struct nf_hook_ops){
		.hook = native_filters[array_index_nospec(a.filter, FILTER_COUNT_IDS)],
		.pf = a.family,
		.hooknum = a.hooknum,
		.priority = a.priority,
	};
	ret = nf_register_net_hook(&init_net, &hooks[i]);
	if (!ret) {
		hook_args[i] = a;
		attached[i] = true;
	}
out:
	mutex_unlock(&hooks_lock);
	return ret;
}

static long native_map(struct kwasm_native_map __user *arg)
{
	struct kwasm_native_map req;
	const struct native_map *m;
	u64 chunk[32];
	u32 i, k, n;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.filter >= FILTER_COUNT_IDS || req.map >= ARRAY_SIZE(filter_maps[0]))
		return -EINVAL;
	m = &filter_maps[array_index_nospec(req.filter, FILTER_COUNT_IDS)]
			[array_index_nospec(req.map, ARRAY_SIZE(filter_maps[0]))];
	if (!m->v)
		return -EINVAL;
	n = min(req.cap, m->len);
	for (i = 0; i < n; i += k) {
		k = min_t(u32, n - i, ARRAY_SIZE(chunk));
		for (u32 j = 0; j < k; j++)
			chunk[j] = atomic64_read(&m->v[i + j]);
		if (copy_to_user(u64_to_user_ptr(req.buf + 8 * (u64)i), chunk, 8 * k))
			return -EFAULT;
	}
	req.len = m->len;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long native_ioctl(struct file *f, unsigned int cmd, unsigned long arg)
{
	void __user *p = (void __user *)arg;

	if (!capable(CAP_NET_ADMIN))
		return -EPERM;
	switch (cmd) {
	case KWASM_NATIVE_RUN:
		return native_run(p);
	case KWASM_NATIVE_ATTACH:
		return native_attach(p, false);
	case KWASM_NATIVE_DETACH:
		return native_attach(p, true);
	case KWASM_NATIVE_MAP:
		return native_map(p);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations native_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = native_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice native_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kwasm-native",
	.fops = &native_fops,
	.mode = 0600,
};

static int __init native_init(void)
{
	return misc_register(&native_misc);
}

static void __exit native_exit(void)
{
	int i;

	/* No ioctl runs any more: an open file holds a module reference. */
	misc_deregister(&native_misc);
	mutex_lock(&hooks_lock);
	for (i = 0; i < KWASM_NATIVE_MAX_ATTACH; i++)
		if (attached[i])
			hook_remove(i);
	mutex_unlock(&hooks_lock);
}

module_init(native_init);
module_exit(native_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kwasm bench: native C baselines of the bench filters");
