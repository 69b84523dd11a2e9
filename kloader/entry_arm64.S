/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Entering generated code and leaving it on a trap, on arm64 (see glue.h;
 * entry_x86_64.S is the same on x86-64).
 *
 * kwasm_enter(trampoline, vmctx, code, values, stack_top, jmpbuf):
 *   jmpbuf[0..12] = x19..x30, jmpbuf[12] = sp; switch to stack_top;
 *   trampoline(vmctx, code, values); switch back; return 0.
 * kwasm_trap_handler(vmctx, code, func), called by generated code (through
 * VmCtx) or by a host function, on the wasm stack:
 *   jmpbuf = kwasm_rs_trap(vmctx, code, func); restore jmpbuf; return code
 *   from kwasm_enter.
 * kwasm_on_kstack(fn, arg, jmpbuf), called by host functions on the wasm
 *   stack: runs fn(arg) on the kernel stack below the sp that the running
 *   kwasm_enter saved in jmpbuf[12], then returns to the wasm stack.
 *
 * The FP/SIMD registers d8-d15 are callee-saved too, but the kernel is
 * built with -mgeneral-regs-only: no caller of kwasm_enter keeps a value in
 * them, and the task's own FP/SIMD state was saved to memory by
 * kernel_neon_begin() for the programs that use floats. So they are left
 * alone here, and an integer-only program's call never touches the SIMD
 * register file.
 *
 * SYM_FUNC_START begins each function with `bti c`: generated code and the
 * module loader reach them through registers.
 */
#include <linux/linkage.h>

#define KWASM_JMPBUF_SP	96

/* Restore sp and x19-x30 from the jmpbuf in x0; x0 is kept. */
.macro KWASM_RESTORE_JMPBUF
	ldr	x9, [x0, #KWASM_JMPBUF_SP]
	mov	sp, x9
	ldp	x19, x20, [x0, #0]
	ldp	x21, x22, [x0, #16]
	ldp	x23, x24, [x0, #32]
	ldp	x25, x26, [x0, #48]
	ldp	x27, x28, [x0, #64]
	ldp	x29, x30, [x0, #80]
.endm

	.text

SYM_FUNC_START(kwasm_enter)
	stp	x19, x20, [x5, #0]
	stp	x21, x22, [x5, #16]
	stp	x23, x24, [x5, #32]
	stp	x25, x26, [x5, #48]
	stp	x27, x28, [x5, #64]
	stp	x29, x30, [x5, #80]
	mov	x9, sp
	str	x9, [x5, #KWASM_JMPBUF_SP]
	mov	x19, x5
	mov	x9, x0
	mov	x0, x1
	mov	x1, x2
	mov	x2, x3
	and	x4, x4, #-16
	mov	sp, x4
	mov	x29, #0
	blr	x9
	mov	x0, x19
	KWASM_RESTORE_JMPBUF
	mov	w0, #0
	ret
SYM_FUNC_END(kwasm_enter)

SYM_FUNC_START(kwasm_trap_handler)
	mov	w19, w1
	mov	x9, sp
	and	x9, x9, #-16
	mov	sp, x9
	bl	kwasm_rs_trap
	mov	w10, w19
	KWASM_RESTORE_JMPBUF
	mov	w0, w10
	ret
SYM_FUNC_END(kwasm_trap_handler)

SYM_FUNC_START(kwasm_on_kstack)
	stp	x29, x30, [sp, #-16]!
	mov	x29, sp
	ldr	x9, [x2, #KWASM_JMPBUF_SP]
	and	x9, x9, #-16
	mov	sp, x9
	mov	x9, x0
	mov	x0, x1
	blr	x9
	mov	sp, x29
	ldp	x29, x30, [sp], #16
	ret
SYM_FUNC_END(kwasm_on_kstack)
