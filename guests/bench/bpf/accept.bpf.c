// SPDX-License-Identifier: GPL-2.0
/* accept: the eBPF twin of guests/wat/accept.wat: accepts every packet. */
#define FILTER_WANT_ACCEPT
#include "bench.bpf.h"
#include "../c/filters.h"

SEC("netfilter")
int accept(struct bpf_nf_ctx *ctx)
{
	(void)ctx;
	return filter_accept();
}
