/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The C <-> Rust boundary of kwasm.ko. Every function here is declared once,
 * so both sides agree and -Wmissing-prototypes stays quiet. Keep the C side
 * to thin wrappers over kernel APIs that Linux 6.12 has no Rust binding for.
 */
#ifndef KWASM_GLUE_H
#define KWASM_GLUE_H

#include <linux/types.h>

struct module;

/* Implemented in glue.c, called from Rust. */

/* Registers the /dev/kwasm misc device. Returns 0 or a negative errno. */
int kwasm_glue_init(void);
/* Removes /dev/kwasm; no ioctl runs after it returns. */
void kwasm_glue_exit(void);

/* Implemented in Rust (kwasm_main.rs), called from glue.c. */

/* An ioctl on /dev/kwasm. Returns >= 0 or a negative errno. */
long kwasm_ioctl(unsigned int cmd, unsigned long arg);
int kwasm_rs_register_program(struct module *owner, const void *meta, size_t meta_len);
void kwasm_rs_unregister_program(struct module *owner);

/*
 * Exported (EXPORT_SYMBOL_GPL) for the init/exit stubs of loaded .kw program
 * modules (DESIGN 6). Forward to the kwasm_rs_* functions above.
 */
int kwasm_register_program(struct module *owner, const void *meta, size_t meta_len);
void kwasm_unregister_program(struct module *owner);

#endif /* KWASM_GLUE_H */
