/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kwasm_native.h: the ioctl interface of native_bench.ko (/dev/kwasm-native),
 * the native C baseline of `kwasm bench`.
 *
 * Its Rust twin is cli/src/native.rs (`kwasm bench --native`, kwasm-tools
 * native-*): keep the two in step. Each ioctl number encodes sizeof() of
 * its record, so a record that differs in size between the two fails with
 * ENOTTY rather than being misread; native.rs asserts the sizes and
 * offsets below at compile time.
 *
 * All fields are naturally aligned, with no implicit padding; little-endian
 * on the machines kwasm supports (x86-64, arm64).
 */
#ifndef KWASM_NATIVE_H
#define KWASM_NATIVE_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define KWASM_NATIVE_DEVICE "/dev/kwasm-native"

/* Filter ids: ../c/filter_defs.h `enum filter_id`. */

/* RUN packets: 20 bytes (an IPv4 header; BPF_PROG_TEST_RUN's minimum for a
 * netfilter program, so the three runners take the same packets) to 65535. */
#define KWASM_NATIVE_MIN_PACKET 20
#define KWASM_NATIVE_MAX_PACKET 65535
/* Calls per RUN: one batch with bottom halves disabled. */
#define KWASM_NATIVE_MAX_COUNT 65536
/* Hooks attached at once. */
#define KWASM_NATIVE_MAX_ATTACH 16

/*
 * RUN (write+read): build an skb of the packet (network header at its
 * start, as at a netfilter hook), then with bottom halves disabled call the
 * filter `count` times on it through a function pointer, the way a hook is
 * called, timed with sched_clock() (the clock kwasm's BENCH uses). The
 * filters update their counters as they would at a hook.
 *
 * Errors: EINVAL bad filter, len < 20 or count 0; E2BIG len > 65535 or
 * count > 65536; EFAULT bad pointers; EPERM without CAP_NET_ADMIN.
 * 48 bytes.
 */
struct kwasm_native_run {
	__u32 filter; /* in: filter id */
	__u32 len; /* in: packet bytes, 20..=65535 */
	__u64 packet; /* in: user pointer to the packet, from the IP header */
	__u32 count; /* in: calls, 1..=65536 */
	__u32 verdict; /* out: the last call's verdict (NF_ACCEPT 1, NF_DROP 0) */
	__u64 ns; /* out: time of all `count` calls, ns */
	__u64 accepts; /* out: calls that returned NF_ACCEPT */
	__u64 drops; /* out: calls that returned NF_DROP */
};

/*
 * ATTACH/DETACH (write): register the filter as a netfilter hook in the
 * initial network namespace (the hook-path measurement; filter `accept` is
 * the empty hook), or unregister the hook attached with the same four
 * values. The module unregisters all of its hooks when it is unloaded.
 *
 * Errors: EINVAL bad filter, family (NFPROTO_IPV4 2, NFPROTO_IPV6 10) or
 * hooknum (0..=4); EEXIST already attached; ENOSPC more than
 * KWASM_NATIVE_MAX_ATTACH; ENOENT (DETACH) not attached; EPERM.
 * 16 bytes.
 */
struct kwasm_native_attach {
	__u32 filter;
	__u32 family;
	__u32 hooknum;
	__s32 priority;
};

/*
 * MAP (write+read): read the counter map `map` of filter `filter`, numbered
 * as its kwasm program numbers its maps: copies min(cap, len) u64 values to
 * the user buffer `buf` and sets `len` to the map's number of entries.
 *
 * Errors: EINVAL no such filter or map; EFAULT; EPERM. 24 bytes.
 */
struct kwasm_native_map {
	__u32 filter;
	__u32 map;
	__u64 buf;
	__u32 cap;
	__u32 len;
};

/* 'k' as /dev/kwasm's ioctls, numbers from 0x40 so the two never meet. */
#define KWASM_NATIVE_RUN _IOWR('k', 0x40, struct kwasm_native_run)
#define KWASM_NATIVE_ATTACH _IOW('k', 0x41, struct kwasm_native_attach)
#define KWASM_NATIVE_DETACH _IOW('k', 0x42, struct kwasm_native_attach)
#define KWASM_NATIVE_MAP _IOWR('k', 0x43, struct kwasm_native_map)

#endif /* KWASM_NATIVE_H */
