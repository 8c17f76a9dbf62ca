/* Embeds the trampoline binary into box (see trampoline.c). */
    .section .rodata
    .balign 16
    .global box_trampoline_start
box_trampoline_start:
    .incbin TRAMPOLINE_PATH
    .global box_trampoline_end
box_trampoline_end:
    .section .note.GNU-stack,"",%progbits
