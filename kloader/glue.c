// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of kwasm.ko: thin wrappers over kernel APIs without a Rust binding
 * in Linux 6.12, the misc device /dev/kwasm, the netfilter hook trampoline
 * and the exported entry points for program modules. All logic lives in
 * Rust; see glue.h.
 */
#define INCLUDE_VERMAGIC

#include <linux/bottom_half.h>
#include <linux/capability.h>
#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/random.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/stddef.h>
#include <linux/vermagic.h>
#include <net/net_namespace.h>
#include <asm/page.h>
#ifdef CONFIG_ARM64
#include <asm/neon.h>
#include <asm/simd.h>
#else
#include <asm/cpufeature.h>
#include <asm/fpu/api.h>
#endif

#include "glue.h"

static long kwasm_fops_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return kwasm_ioctl(cmd, arg);
}

static const struct file_operations kwasm_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = kwasm_fops_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/* 0666: everyone reaches the ioctls; mutating ones check capabilities. */
static struct miscdevice kwasm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kwasm",
	.fops = &kwasm_fops,
	.mode = 0666,
};

int kwasm_glue_init(void)
{
	return misc_register(&kwasm_misc);
}

void kwasm_glue_exit(void)
{
	misc_deregister(&kwasm_misc);
}

bool kwasm_capable(void)
{
	return capable(CAP_NET_ADMIN) || capable(CAP_SYS_ADMIN);
}

/*
 * Functions of the module loader's init and exit types, whose address is
 * taken, so that under CONFIG_CFI_CLANG clang gives them the type-hash
 * preambles the loader's indirect calls check. `kwasm load` copies those
 * bytes in front of a program module's stubs.
 */
static int kwasm_cfi_initcall(void)
{
	return 0;
}

static void kwasm_cfi_exitcall(void)
{
}

static initcall_t __used kwasm_cfi_init_proto = kwasm_cfi_initcall;
static exitcall_t __used kwasm_cfi_exit_proto = kwasm_cfi_exitcall;

void kwasm_module_layout(u32 out[5], char *vermagic, size_t len, u8 *init_pre, u8 *exit_pre,
			 size_t pre_len)
{
	memset(init_pre, 0, pre_len);
	memset(exit_pre, 0, pre_len);
	if (IS_ENABLED(CONFIG_CFI_CLANG)) {
		memcpy(init_pre, (const u8 *)READ_ONCE(kwasm_cfi_init_proto) - pre_len, pre_len);
		memcpy(exit_pre, (const u8 *)READ_ONCE(kwasm_cfi_exit_proto) - pre_len, pre_len);
	}
	out[0] = sizeof(struct module);
	out[1] = offsetof(struct module, name);
	out[2] = offsetof(struct module, init);
	out[3] = offsetof(struct module, exit);
	out[4] = MODULE_NAME_LEN;
	strscpy(vermagic, VERMAGIC_STRING, len);
}

bool kwasm_module_get(struct module *mod)
{
	return try_module_get(mod);
}

void kwasm_module_put(struct module *mod)
{
	module_put(mod);
}

void kwasm_bh_disable(void)
{
	local_bh_disable();
}

void kwasm_bh_enable(void)
{
	local_bh_enable();
}

unsigned int kwasm_cpu(void)
{
	return smp_processor_id();
}

unsigned int kwasm_nr_cpus(void)
{
	return nr_cpu_ids;
}

/* The FP/SIMD unit for programs that use floats: x86 FPU, arm64 NEON. */
bool kwasm_fpu_usable(void)
{
#ifdef CONFIG_ARM64
	return may_use_simd();
#else
	return irq_fpu_usable();
#endif
}

void kwasm_fpu_begin(void)
{
#ifdef CONFIG_ARM64
	kernel_neon_begin();
#else
	kernel_fpu_begin();
#endif
}

void kwasm_fpu_end(void)
{
#ifdef CONFIG_ARM64
	kernel_neon_end();
#else
	kernel_fpu_end();
#endif
}

#ifdef CONFIG_X86
bool kwasm_cpu_has(unsigned int feature)
{
	return boot_cpu_has(feature);
}
#endif

u64 kwasm_clock_ns(void)
{
	return sched_clock();
}

u32 kwasm_random_u32(void)
{
	return get_random_u32();
}

struct ratelimit_state *kwasm_ratelimit_new(void)
{
	struct ratelimit_state *rs = kzalloc(sizeof(*rs), GFP_KERNEL);

	if (rs)
		ratelimit_state_init(rs, DEFAULT_RATELIMIT_INTERVAL, DEFAULT_RATELIMIT_BURST);
	return rs;
}

void kwasm_ratelimit_free(struct ratelimit_state *rs)
{
	ratelimit_state_exit(rs);
	kfree(rs);
}

void kwasm_log_limited(struct ratelimit_state *rs, const char *msg, size_t len)
{
	if (__ratelimit(rs))
		printk(KERN_INFO "kwasm: %.*s\n", (int)len, msg);
}

size_t kwasm_irq_stack_size(void)
{
	return IRQ_STACK_SIZE;
}

u32 kwasm_skb_len(const struct sk_buff *skb)
{
	return skb->len - skb_network_offset(skb);
}

int kwasm_skb_copy(const struct sk_buff *skb, u32 off, void *to, u32 len)
{
	return skb_copy_bits(skb, skb_network_offset(skb) + off, to, len);
}

struct sk_buff *kwasm_skb_new(const void *data, u32 len)
{
	struct sk_buff *skb = alloc_skb(len, GFP_KERNEL);

	if (!skb)
		return NULL;
	skb_reset_network_header(skb);
	skb_put_data(skb, data, len);
	return skb;
}

void kwasm_skb_free(struct sk_buff *skb)
{
	consume_skb(skb);
}

bool kwasm_yield(void)
{
	cond_resched();
	return !signal_pending(current);
}

static unsigned int kwasm_nf_hookfn(void *priv, struct sk_buff *skb,
				    const struct nf_hook_state *state)
{
	return kwasm_rs_hook(priv, skb);
}

void *kwasm_nf_attach(void *priv, u32 family, u32 hook, int priority)
{
	struct nf_hook_ops *ops = kzalloc(sizeof(*ops), GFP_KERNEL);
	int ret;

	if (!ops)
		return ERR_PTR(-ENOMEM);
	ops->hook = kwasm_nf_hookfn;
	ops->priv = priv;
	ops->pf = family;
	ops->hooknum = hook;
	ops->priority = priority;
	ret = nf_register_net_hook(&init_net, ops);
	if (ret) {
		kfree(ops);
		return ERR_PTR(ret);
	}
	return ops;
}

/*
 * nf_unregister_net_hook() does not wait for hooks already running on other
 * CPUs (it only defers freeing the entries array with call_rcu), and they
 * run under rcu_read_lock(). Wait for them here, before the caller drops the
 * program reference that `priv` holds.
 */
void kwasm_nf_detach(void *ops)
{
	nf_unregister_net_hook(&init_net, ops);
	synchronize_net();
	kfree(ops);
}

int kwasm_register(struct module *mod, const u8 *meta, size_t meta_len, const u8 *text,
		   size_t text_len, const u8 *cfg)
{
	return kwasm_rs_register(mod, meta, meta_len, text, text_len, cfg);
}
EXPORT_SYMBOL_GPL(kwasm_register);

void kwasm_unregister(struct module *mod)
{
	kwasm_rs_unregister(mod);
}
EXPORT_SYMBOL_GPL(kwasm_unregister);
