# Extra make targets for the kernel and the VM, beside the root Makefile's
# `setup` and `vm-test`. To use them, add to the root Makefile:
#
#   include vm/vm.mk
#
# Everything real happens in `cargo xtask` (see `cargo xtask --help`).
# KDIR=/path/to/built/linux uses your own kernel tree.

CARGO ?= cargo

.PHONY: kernel kernel-debug kernel-hardened kernel-arm64 module vm-test-debug vm-test-hardened \
	vm-test-arm64 vm-shell

# Build (or reuse from ~/.cache/kwasm) the VM kernel.
kernel:
	$(CARGO) xtask kernel

kernel-debug:
	$(CARGO) xtask kernel --debug-kernel

kernel-hardened:
	$(CARGO) xtask kernel --hardened

# The arm64 kernel (cross-compiled by the same clang).
kernel-arm64:
	$(CARGO) xtask kernel --arch aarch64

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

# vm-test on the arm64 VM (qemu-system-aarch64 -M virt, TCG).
vm-test-arm64:
	$(CARGO) xtask vm-test --arch aarch64

# The VM with a shell after the checks (Ctrl-A X quits).
vm-shell:
	$(CARGO) xtask vm-shell
