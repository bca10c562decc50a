// context_x86_64.S: the goroutine context switch (Go: gogo/mcall) for the System V x86-64 ABI.
//
// gort_swap_context(void** save_sp, void* load_sp, uint64_t fp_control) pushes the
// callee-saved registers and fp_control (the leaving context's MXCSR and x87 control word,
// as read_fp_control() in context.hpp packs them), stores the stack pointer to *save_sp,
// loads load_sp and pops the same frame from there. A saved frame is 64 bytes, lowest
// address first:
//   [0] mxcsr (4) + x87 cw (2) + pad   [8] r15  [16] r14  [24] r13  [32] r12  [40] rbx
//   [48] rbp  [56] return address
// A new goroutine's frame (see context.hpp) returns into gort_start_trampoline, which calls
// r13(r12) and never returns. `.cfi_undefined rip` there ends every unwinder's walk.
// The caller reads fp_control rather than the switch: stmxcsr is microcoded (about 4 ns on
// Zen 4) and costs less read early, where the caller's other work overlaps it; nothing
// between that read and the switch is user code, so the value is still the context's.
// MXCSR and the x87 control word are reloaded only when the resumed context's values
// differ from the current ones.
//
// gort_jump_context(void* load_sp) resumes load_sp the same way without saving anything:
// the context it leaves is never resumed (a goroutine that has ended). It loads the MXCSR
// and control word unconditionally, since the ended goroutine may have changed them and
// reading them to compare costs more than loading (Zen 4: stmxcsr about 4 ns, ldmxcsr and
// fldcw under 1 ns each).

    .text
    .globl  gort_swap_context
    .type   gort_swap_context,@function
    .p2align 4
gort_swap_context:
    .cfi_startproc
    endbr64
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    pushq   %rdx
    movl    %edx, %ecx          // the current MXCSR
    shrq    $32, %rdx           // and x87 control word
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    cmpl    (%rsp), %ecx
    je      1f
    ldmxcsr (%rsp)
1:  cmpw    4(%rsp), %dx
    je      2f
    fldcw   4(%rsp)
2:
.Lpop_frame:                    // pops the frame at %rsp and returns into it
    addq    $8, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   gort_swap_context,.-gort_swap_context

    .globl  gort_jump_context
    .type   gort_jump_context,@function
    .p2align 4
gort_jump_context:
    .cfi_startproc
    endbr64
    movq    %rdi, %rsp
    ldmxcsr (%rsp)
    fldcw   4(%rsp)
    jmp     .Lpop_frame
    .cfi_endproc
    .size   gort_jump_context,.-gort_jump_context

    .globl  gort_start_trampoline
    .type   gort_start_trampoline,@function
    .p2align 4
gort_start_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    endbr64
    xorl    %ebp, %ebp
    movq    %r12, %rdi
    callq   *%r13
    ud2
    .cfi_endproc
    .size   gort_start_trampoline,.-gort_start_trampoline

    .section .note.GNU-stack,"",@progbits
