//go:build !purego

#include "textflag.h"

// The weights of the bytes of a 32-byte chunk in B: 32 for the first byte
// down to 1 for the last.
DATA weights<>+0(SB)/8, $0x191a1b1c1d1e1f20
DATA weights<>+8(SB)/8, $0x1112131415161718
DATA weights<>+16(SB)/8, $0x090a0b0c0d0e0f10
DATA weights<>+24(SB)/8, $0x0102030405060708
GLOBL weights<>(SB), RODATA|NOPTR, $32

DATA ones16<>+0(SB)/8, $0x0001000100010001
DATA ones16<>+8(SB)/8, $0x0001000100010001
DATA ones16<>+16(SB)/8, $0x0001000100010001
DATA ones16<>+24(SB)/8, $0x0001000100010001
GLOBL ones16<>(SB), RODATA|NOPTR, $32

// func sumAVX2(p *byte, n int) (a, b uint32)
//
// Over chunks c = 0 … C-1 of 32 bytes, with S_c the chunk's byte sum and
// W_c its bytes weighted 32 … 1, A = Σ S_c and B = Σ (32·(C-1-c)·S_c + W_c).
// The first term is 32 times the sum, over the chunks, of the byte sums of
// the chunks before each: that running total is added up as the loop goes.
// S_c comes from VPSADBW (four 64-bit lanes), W_c from VPMADDUBSW and
// VPMADDWD (eight 32-bit lanes, which cannot overflow before their low 16
// bits are taken).
TEXT ·sumAVX2(SB), NOSPLIT, $0-24
	MOVQ    p+0(FP), SI
	MOVQ    n+8(FP), CX
	VPXOR   Y1, Y1, Y1 // A so far (64-bit lanes)
	VPXOR   Y2, Y2, Y2 // Σ W_c (32-bit lanes)
	VPXOR   Y3, Y3, Y3 // Σ over chunks of A before the chunk (64-bit lanes)
	VPXOR   Y7, Y7, Y7
	VMOVDQU weights<>(SB), Y6
	VMOVDQU ones16<>(SB), Y8

loop:
	CMPQ       CX, $32
	JLT        done
	VMOVDQU    (SI), Y0
	VPADDQ     Y1, Y3, Y3
	VPSADBW    Y7, Y0, Y4
	VPADDQ     Y4, Y1, Y1
	VPMADDUBSW Y6, Y0, Y5
	VPMADDWD   Y8, Y5, Y5
	VPADDD     Y5, Y2, Y2
	ADDQ       $32, SI
	SUBQ       $32, CX
	JMP        loop

done:
	VEXTRACTI128 $1, Y1, X4
	VPADDQ       X4, X1, X1
	VPSHUFD      $0x4e, X1, X4
	VPADDQ       X4, X1, X1
	VMOVQ        X1, AX
	VEXTRACTI128 $1, Y3, X4
	VPADDQ       X4, X3, X3
	VPSHUFD      $0x4e, X3, X4
	VPADDQ       X4, X3, X3
	VMOVQ        X3, BX
	VEXTRACTI128 $1, Y2, X4
	VPADDD       X4, X2, X2
	VPSHUFD      $0x4e, X2, X4
	VPADDD       X4, X2, X2
	VPSHUFD      $0xb1, X2, X4
	VPADDD       X4, X2, X2
	VMOVD        X2, DX
	SHLQ         $5, BX
	ADDQ         DX, BX
	MOVL         AX, a+16(FP)
	MOVL         BX, b+20(FP)
	VZEROUPPER
	RET
