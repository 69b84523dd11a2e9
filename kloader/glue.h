/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C <-> Rust boundary of kwasm.ko. Every function here is declared once,
 * so both sides agree and -Wmissing-prototypes stays quiet. The C side is
 * thin wrappers over kernel APIs that Linux 6.12 has no Rust binding for;
 * all decisions are made in Rust. No kwasm constant is defined in C: values
 * come from Rust (kwasm-abi) as arguments.
 */
#ifndef KWASM_GLUE_H
#define KWASM_GLUE_H

#include <linux/types.h>

struct module;
struct sk_buff;

/* ---- Implemented in glue.c, called from Rust. ---- */

/* Registers the /dev/kwasm misc device. Returns 0 or a negative errno. */
int kwasm_glue_init(void);
/* Removes /dev/kwasm; no ioctl runs after it returns. */
void kwasm_glue_exit(void);

/* Whether the caller may change programs (CAP_NET_ADMIN or CAP_SYS_ADMIN). */
bool kwasm_capable(void);

/*
 * struct module facts for MODULE_LAYOUT: out[0..5] = sizeof(struct module),
 * offsetof name, init, exit, MODULE_NAME_LEN. VERMAGIC_STRING is copied
 * NUL-terminated into vermagic (truncated to len - 1 bytes).
 */
void kwasm_module_layout(u32 out[5], char *vermagic, size_t len, u8 *init_pre, u8 *exit_pre,
			 size_t pre_len);
/* try_module_get()/module_put() on a program module. */
bool kwasm_module_get(struct module *mod);
void kwasm_module_put(struct module *mod);

/* local_bh_disable()/local_bh_enable(), smp_processor_id(), nr_cpu_ids. */
void kwasm_bh_disable(void);
void kwasm_bh_enable(void);
unsigned int kwasm_cpu(void);
unsigned int kwasm_nr_cpus(void);

/* irq_fpu_usable(), kernel_fpu_begin(), kernel_fpu_end(); on arm64
 * may_use_simd(), kernel_neon_begin(), kernel_neon_end(). */
bool kwasm_fpu_usable(void);
void kwasm_fpu_begin(void);
void kwasm_fpu_end(void);

#ifdef CONFIG_X86
/* boot_cpu_has(feature), an X86_FEATURE_* number (from Rust's bindings). */
bool kwasm_cpu_has(unsigned int feature);
#endif

/*
 * sched_clock() (fine-grained, unfiltered: for intervals on one CPU),
 * get_random_u32(). (Host `time_ns` uses the kernel crate's Ktime.)
 */
u64 kwasm_clock_ns(void);
u32 kwasm_random_u32(void);

/* printk_ratelimited(KERN_INFO "kwasm: %.*s\n", len, msg). */
struct ratelimit_state;
struct ratelimit_state *kwasm_ratelimit_new(void);
void kwasm_ratelimit_free(struct ratelimit_state *rs);
void kwasm_log_limited(struct ratelimit_state *rs, const char *msg, size_t len);
size_t kwasm_irq_stack_size(void);

/* The packet from its network header: length, and skb_copy_bits(). */
u32 kwasm_skb_len(const struct sk_buff *skb);
int kwasm_skb_copy(const struct sk_buff *skb, u32 off, void *to, u32 len);

/*
 * BENCH, in process context: a linear skb holding a copy of data[0..len]
 * with the network header at its start (NULL when out of memory), freed
 * with kwasm_skb_free(). kwasm_yield(): cond_resched(), then false if a
 * signal is pending.
 */
struct sk_buff *kwasm_skb_new(const void *data, u32 len);
void kwasm_skb_free(struct sk_buff *skb);
bool kwasm_yield(void);

/*
 * Registers a netfilter hook in init_net that calls kwasm_rs_hook(priv, skb).
 * Returns the hook (to pass to kwasm_nf_detach) or an ERR_PTR.
 */
void *kwasm_nf_attach(void *priv, u32 family, u32 hook, int priority);
/* Unregisters (waiting for running hooks) and frees a hook. */
void kwasm_nf_detach(void *ops);

/* ---- Implemented in entry_x86_64.S or entry_arm64.S. ---- */

/*
 * Saves the callee-saved registers and the stack pointer in jmpbuf (8 u64
 * on x86-64, 13 on arm64: JMPBUF_SLOTS in instance.rs),
 * switches to stack_top, calls trampoline(vmctx, code, values), switches
 * back and returns 0. A trap returns through kwasm_trap_handler instead.
 */
u32 kwasm_enter(const void *trampoline, void *vmctx, const void *code, u64 *values,
		void *stack_top, u64 *jmpbuf);
/*
 * The trap handler stored in every VmCtx: calls kwasm_rs_trap(vmctx, code,
 * func), which records the trap and returns the jmpbuf of the running
 * kwasm_enter, then restores it so that kwasm_enter returns code.
 */
void kwasm_trap_handler(void *vmctx, u32 code, u32 func);
void kwasm_on_kstack(void (*fn)(void *), void *arg, const u64 *jmpbuf);

/* ---- Implemented in Rust (registry.rs, dev.rs, libcalls.rs), called from C. ---- */

/* An ioctl on /dev/kwasm. Returns >= 0 or a negative errno. */
long kwasm_ioctl(unsigned int cmd, unsigned long arg);
int kwasm_rs_register(struct module *mod, const u8 *meta, size_t meta_len, const u8 *text,
		      size_t text_len, const u8 *cfg);
void kwasm_rs_unregister(struct module *mod);
/* The netfilter hook of a program: returns NF_ACCEPT or NF_DROP. */
unsigned int kwasm_rs_hook(void *priv, struct sk_buff *skb);
/* Called by kwasm_trap_handler on the wasm stack; returns the jmpbuf. */
u64 *kwasm_rs_trap(void *vmctx, u32 code, u32 func);

/*
 * Exported (EXPORT_SYMBOL_GPL) for the init/exit stubs of program modules
 * that `kwasm load` builds (DESIGN 6); forward to the kwasm_rs_* functions.
 */
int kwasm_register(struct module *mod, const u8 *meta, size_t meta_len, const u8 *text,
		   size_t text_len, const u8 *cfg);
void kwasm_unregister(struct module *mod);

#endif /* KWASM_GLUE_H */
