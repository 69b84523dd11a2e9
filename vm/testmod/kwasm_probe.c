// SPDX-License-Identifier: GPL-2.0
/*
 * kwasm_probe.ko: proves in the VM that a separate module can link against
 * and call the symbols kwasm.ko exports with EXPORT_SYMBOL_GPL, as the
 * generated .kw program modules do. Prototypes are declared here, not
 * included, because generated modules have no headers either.
 */
#include <linux/module.h>
#include <linux/printk.h>

int kwasm_register(struct module *mod, const u8 *meta, size_t meta_len, const u8 *text,
		   size_t text_len, const u8 *cfg);
void kwasm_unregister(struct module *mod);

static int __init kwasm_probe_init(void)
{
	/* Empty metadata must be refused, by the skeleton and the real thing. */
	int ret = kwasm_register(THIS_MODULE, NULL, 0, NULL, 0, NULL);

	if (ret != -EINVAL) {
		pr_err("kwasm_probe: kwasm_register(NULL) returned %d\n", ret);
		return -EIO;
	}
	kwasm_unregister(THIS_MODULE);
	pr_info("kwasm_probe: called kwasm.ko exports\n");
	return 0;
}

static void __exit kwasm_probe_exit(void)
{
}

module_init(kwasm_probe_init);
module_exit(kwasm_probe_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kwasm VM test: link against kwasm.ko exports");
