# Make targets for the kernel and the VM. The root Makefile includes this:
#
#   include vm/vm.mk
#
# Everything real happens in scripts/setup.sh and `cargo xtask`; see
# `cargo xtask --help`. KDIR=/path/to/built/linux uses your own kernel tree.

CARGO ?= cargo

.PHONY: setup kernel kernel-debug module vm-test vm-test-debug vm-shell

# Install the Debian packages, rustup components/targets and bindgen-cli.
setup:
	sh scripts/setup.sh

# Build (or reuse from ~/.cache/kwasm) the VM kernel.
kernel:
	$(CARGO) xtask kernel

kernel-debug:
	$(CARGO) xtask kernel --debug-kernel

# kwasm.ko against that kernel.
module:
	$(CARGO) xtask module

# Boot the VM and run the in-VM checks (TCG; KWASM_ACCEL=kvm for KVM).
vm-test:
	$(CARGO) xtask vm-test

vm-test-debug:
	$(CARGO) xtask vm-test --debug-kernel

vm-shell:
	$(CARGO) xtask vm-shell
