//go:build !purego

#include "textflag.h"

// Per 128-bit lane: every 16-bit word becomes the lane's word 7.
DATA bcast7<>+0(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA bcast7<>+8(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA bcast7<>+16(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA bcast7<>+24(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL bcast7<>(SB), RODATA|NOPTR, $32

// Per 128-bit lane: zero in the low quadword, the lane's word 3 in every
// word of the high quadword.
DATA bcast3hi<>+0(SB)/8, $0x8080808080808080
DATA bcast3hi<>+8(SB)/8, $0x0706070607060706
DATA bcast3hi<>+16(SB)/8, $0x8080808080808080
DATA bcast3hi<>+24(SB)/8, $0x0706070607060706
GLOBL bcast3hi<>(SB), RODATA|NOPTR, $32

// PREFIX16 turns the 16-bit words of ymm r into running sums over all 16
// words and sets every word of tot to their total; t is scratch, Y12 holds
// bcast7 and Y13 bcast3hi. Within each quadword by bit shifts, then across
// quadwords and lanes by adding broadcast totals: four shuffles, not seven
// (shuffles, not additions, bound this loop).
#define PREFIX16(r, t, tot) \
	VPSLLQ     $16, r, t      \
	VPADDW     t, r, r        \
	VPSLLQ     $32, r, t      \
	VPADDW     t, r, r        \
	VPSHUFB    Y13, r, t      \
	VPADDW     t, r, r        \
	VPSHUFB    Y12, r, t      \
	VPERM2I128 $0x01, t, t, tot \
	VPADDW     t, tot, tot    \
	VPERM2I128 $0x08, t, t, t \
	VPADDW     t, r, r

// func rollAVX2(ws *uint32, out, in *byte, n int, ab uint32, shift uint64) uint32
//
// The rolling sum of a window over 16 positions at a time. With d = in-out,
// A[i] = a + d[0] + ... + d[i] and B[i] = b + sum over j <= i of
// (A[j] - out[j]<<shift), all modulo 2^16: two prefix sums of 16-bit words.
TEXT ·rollAVX2(SB), NOSPLIT, $0-52
	MOVQ ws+0(FP), DI
	MOVQ out+8(FP), SI
	MOVQ in+16(FP), DX
	MOVQ n+24(FP), CX
	MOVL ab+32(FP), AX
	MOVQ shift+40(FP), X15
	VMOVDQU bcast7<>(SB), Y12
	VMOVDQU bcast3hi<>(SB), Y13
	MOVL AX, BX
	SHRL $16, BX
	MOVL BX, X0
	VPBROADCASTW X0, Y10 // A of the previous position, in every word
	MOVL AX, X1
	VPBROADCASTW X1, Y11 // B of the previous position, in every word

loop:
	CMPQ CX, $16
	JLT  done
	VPMOVZXBW (SI), Y0 // out
	VPMOVZXBW (DX), Y1 // in
	VPSUBW    Y0, Y1, Y1
	PREFIX16(Y1, Y2, Y8)
	// The carries move on by the totals of the prefix sums, not by the
	// last sums themselves: the only dependency from one round to the
	// next is then one addition each.
	VPADDW    Y10, Y1, Y1 // A
	VPADDW    Y8, Y10, Y10 // A of position 15, for the next round
	VPSLLW    X15, Y0, Y0
	VPSUBW    Y0, Y1, Y3
	PREFIX16(Y3, Y4, Y9)
	VPADDW    Y11, Y3, Y3 // B
	VPADDW    Y9, Y11, Y11
	// Interleave to A<<16 | B: unpacking works within 128-bit lanes, so
	// the halves are put back in order afterwards.
	VPUNPCKLWD Y1, Y3, Y4 // positions 0-3, 8-11
	VPUNPCKHWD Y1, Y3, Y5 // positions 4-7, 12-15
	VPERM2I128 $0x20, Y5, Y4, Y6
	VPERM2I128 $0x31, Y5, Y4, Y7
	VMOVDQU    Y6, (DI)
	VMOVDQU    Y7, 32(DI)
	ADDQ       $16, SI
	ADDQ       $16, DX
	ADDQ       $64, DI
	SUBQ       $16, CX
	JMP        loop

done:
	MOVL  X10, AX
	ANDL  $0xffff, AX
	SHLL  $16, AX
	MOVL  X11, BX
	ANDL  $0xffff, BX
	ORL   BX, AX
	MOVL  AX, ret+48(FP)
	VZEROUPPER
	RET

// The anchor test's addend and multiplier (rollsum.AnchorAdd, AnchorMul).
DATA anchork<>+0(SB)/4, $2
DATA anchork<>+4(SB)/4, $0x9E3779B1
GLOBL anchork<>(SB), RODATA|NOPTR, $8

// func anchorAVX2(ws *uint32, n int, shift uint64) int
//
// anchorFirstGo on the first n&^31 sums: 32 a round, each added to,
// multiplied and shifted, and one test of all 32 for a zero.
TEXT ·anchorAVX2(SB), NOSPLIT, $0-32
	MOVQ         ws+0(FP), SI
	MOVQ         n+8(FP), CX
	ANDQ         $-32, CX
	MOVQ         shift+16(FP), X14
	VPBROADCASTD anchork<>+0(SB), Y11
	VPBROADCASTD anchork<>+4(SB), Y10
	VPXOR        Y15, Y15, Y15
	XORQ         AX, AX

aloop:
	CMPQ     AX, CX
	JGE      anone
	VPADDD   (SI)(AX*4), Y11, Y0
	VPADDD   32(SI)(AX*4), Y11, Y1
	VPADDD   64(SI)(AX*4), Y11, Y2
	VPADDD   96(SI)(AX*4), Y11, Y3
	VPMULLD  Y10, Y0, Y0
	VPMULLD  Y10, Y1, Y1
	VPMULLD  Y10, Y2, Y2
	VPMULLD  Y10, Y3, Y3
	VPSRLD   X14, Y0, Y0
	VPSRLD   X14, Y1, Y1
	VPSRLD   X14, Y2, Y2
	VPSRLD   X14, Y3, Y3
	VPCMPEQD Y15, Y0, Y0
	VPCMPEQD Y15, Y1, Y1
	VPCMPEQD Y15, Y2, Y2
	VPCMPEQD Y15, Y3, Y3
	VPOR     Y0, Y1, Y4
	VPOR     Y2, Y3, Y5
	VPOR     Y4, Y5, Y4
	VPTEST   Y4, Y4
	JNZ      ahit
	ADDQ     $32, AX
	JMP      aloop

ahit:
	VMOVMSKPS Y0, DI
	VMOVMSKPS Y1, R8
	SHLQ      $8, R8
	ORQ       R8, DI
	VMOVMSKPS Y2, R8
	SHLQ      $16, R8
	ORQ       R8, DI
	VMOVMSKPS Y3, R8
	SHLQ      $24, R8
	ORQ       R8, DI
	BSFQ      DI, DI
	ADDQ      DI, AX
	MOVQ      AX, ret+24(FP)
	VZEROUPPER
	RET

anone:
	MOVQ CX, ret+24(FP)
	VZEROUPPER
	RET
