# Extra make targets for the kernel and the VM, beside the root Makefile's
# `setup` and `vm-test`. To use them, add to the root Makefile:
#
#   include vm/vm.mk
#
# Everything real happens in `cargo xtask` (see `cargo xtask --help`).
# KDIR=/path/to/built/linux uses your own kernel tree.

CARGO ?= cargo

.PHONY: kernel kernel-debug kernel-hardened module vm-test-debug vm-test-hardened vm-shell

# Build (or reuse from ~/.cache/kwasm) the VM kernel.
kernel:
	$(CARGO) xtask kernel

kernel-debug:
	$(CARGO) xtask kernel --debug-kernel

kernel-hardened:
	$(CARGO) xtask kernel --hardened

# kwasm.ko and the VM's test module against that kernel.
module:
	$(CARGO) xtask module

# vm-test on the KASAN + lockdep kernel.
vm-test-debug:
	$(CARGO) xtask vm-test --debug-kernel

# vm-test on the hardened kernel (IBT, kCFI, retpolines, return thunks,
# stack protector).
vm-test-hardened:
	$(CARGO) xtask vm-test --hardened

# The VM with a shell after the checks (Ctrl-A X quits).
vm-shell:
	$(CARGO) xtask vm-shell
