// SPDX-License-Identifier: GPL-2.0
/*
 * C glue of kwasm.ko: the misc device /dev/kwasm and the exported entry
 * points for program modules. All logic lives in Rust; see glue.h.
 */
#include <linux/export.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

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

static struct miscdevice kwasm_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "kwasm",
	.fops = &kwasm_fops,
	.mode = 0600,
};

int kwasm_glue_init(void)
{
	return misc_register(&kwasm_misc);
}

void kwasm_glue_exit(void)
{
	misc_deregister(&kwasm_misc);
}

int kwasm_register_program(struct module *owner, const void *meta, size_t meta_len)
{
	return kwasm_rs_register_program(owner, meta, meta_len);
}
EXPORT_SYMBOL_GPL(kwasm_register_program);

void kwasm_unregister_program(struct module *owner)
{
	kwasm_rs_unregister_program(owner);
}
EXPORT_SYMBOL_GPL(kwasm_unregister_program);
