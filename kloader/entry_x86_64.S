/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entering generated code and leaving it on a trap, on x86-64 (see glue.h;
 * entry_arm64.S is the same on arm64).
 *
 * kwasm_enter(trampoline, vmctx, code, values, stack_top, jmpbuf):
 *   jmpbuf[0..7] = rbx, rbp, r12, r13, r14, r15, rsp; switch to stack_top;
 *   trampoline(vmctx, code, values); switch back; return 0.
 * kwasm_trap_handler(vmctx, code, func), called by generated code (through
 * VmCtx) or by a host function, on the wasm stack:
 *   jmpbuf = kwasm_rs_trap(vmctx, code, func); restore jmpbuf; return code
 *   from kwasm_enter.
 *
 * kwasm_on_kstack(fn, arg, jmpbuf), called by host functions on the wasm
 *   stack: runs fn(arg) on the kernel stack below the rsp that the running
 *   kwasm_enter saved in jmpbuf[6] (everything below it is free while wasm
 *   code runs), then returns to the wasm stack. Host functions that go deep
 *   into the kernel (printk and the console drivers) use it, so the wasm
 *   stack's reserve only has to hold interrupts and shallow helpers.
 *
 * All three switch stacks, which objtool cannot follow: they are marked
 * STACK_FRAME_NON_STANDARD. Only generated code, host functions and libcalls
 * (which hold no resources when they trap) lie between the two.
 */
#include <linux/linkage.h>
#include <linux/objtool.h>
#include <asm/nospec-branch.h>

/* Restore the stack pointer and callee-saved registers from jmpbuf (%rax). */
.macro KWASM_RESTORE_JMPBUF
	movq	48(%rax), %rsp
	movq	0(%rax), %rbx
	movq	8(%rax), %rbp
	movq	16(%rax), %r12
	movq	24(%rax), %r13
	movq	32(%rax), %r14
	movq	40(%rax), %r15
.endm

	.text

SYM_FUNC_START(kwasm_enter)
	movq	%rbx, 0(%r9)
	movq	%rbp, 8(%r9)
	movq	%r12, 16(%r9)
	movq	%r13, 24(%r9)
	movq	%r14, 32(%r9)
	movq	%r15, 40(%r9)
	movq	%rsp, 48(%r9)
	movq	%r9, %rbx
	movq	%rdi, %rax
	movq	%rsi, %rdi
	movq	%rdx, %rsi
	movq	%rcx, %rdx
	movq	%r8, %rsp
	andq	$-16, %rsp
	xorl	%ebp, %ebp
	CALL_NOSPEC rax
	movq	%rbx, %rax
	KWASM_RESTORE_JMPBUF
	xorl	%eax, %eax
	RET
SYM_FUNC_END(kwasm_enter)
STACK_FRAME_NON_STANDARD kwasm_enter

SYM_FUNC_START(kwasm_trap_handler)
	movl	%esi, %ebx
	andq	$-16, %rsp
	call	kwasm_rs_trap
	movl	%ebx, %ecx
	KWASM_RESTORE_JMPBUF
	movl	%ecx, %eax
	RET
SYM_FUNC_END(kwasm_trap_handler)
STACK_FRAME_NON_STANDARD kwasm_trap_handler

SYM_FUNC_START(kwasm_on_kstack)
	pushq	%rbp
	movq	%rsp, %rbp
	movq	48(%rdx), %rsp
	andq	$-16, %rsp
	movq	%rdi, %rax
	movq	%rsi, %rdi
	CALL_NOSPEC rax
	movq	%rbp, %rsp
	popq	%rbp
	RET
SYM_FUNC_END(kwasm_on_kstack)
STACK_FRAME_NON_STANDARD kwasm_on_kstack
