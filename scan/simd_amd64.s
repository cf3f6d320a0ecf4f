//go:build !purego

#include "textflag.h"

// The prefilter's multipliers (fk1..fk3 in prefilter.go).
DATA fk<>+0(SB)/4, $0x9E3779B1
DATA fk<>+4(SB)/4, $0x85EBCA77
DATA fk<>+8(SB)/4, $0xC2B2AE3D
GLOBL fk<>(SB), RODATA|NOPTR, $12

// 1 << i in byte i of each 8, for VPSHUFB (byteBit in prefilter.go).
DATA bytebit<>+0(SB)/8, $0x8040201008040201
DATA bytebit<>+8(SB)/8, $0x8040201008040201
DATA bytebit<>+16(SB)/8, $0x8040201008040201
DATA bytebit<>+24(SB)/8, $0x8040201008040201
GLOBL bytebit<>(SB), RODATA|NOPTR, $32

DATA sevens<>+0(SB)/4, $0x07070707
GLOBL sevens<>(SB), RODATA|NOPTR, $4

// LOAD4 loads the four words (BX) indexed by the 32-bit lanes of idx into
// the lanes of dst, two indexes at a time through R9-R12.
#define LOAD4(idx, dst) \
	VMOVQ   idx, R9                   \
	MOVL    R9, R10                   \
	SHRQ    $32, R9                   \
	VMOVD   (BX)(R10*4), dst          \
	VPINSRD $1, (BX)(R9*4), dst, dst  \
	VPEXTRQ $1, idx, R11              \
	MOVL    R11, R12                  \
	SHRQ    $32, R11                  \
	VPINSRD $2, (BX)(R12*4), dst, dst \
	VPINSRD $3, (BX)(R11*4), dst, dst

// func filterAVX2(w0s, w1s *uint32, n int, mask uint32, words *uint32, wshift uint64) int
//
// Eight keys at a time: both hashes by 32-bit multiplies, the four bits by
// one byte shuffle, the words by eight scalar loads (the indexes moved to
// general registers two at a time). VPGATHERDD does the loads in one
// instruction but is slower on AMD's cores, where it is microcoded.
TEXT ·filterAVX2(SB), NOSPLIT, $0-56
	MOVQ         w0s+0(FP), SI
	MOVQ         w1s+8(FP), DX
	MOVQ         n+16(FP), CX
	ANDQ         $-8, CX
	MOVL         mask+24(FP), R8
	MOVL         R8, X9
	VPBROADCASTD X9, Y9
	MOVQ         words+32(FP), BX
	MOVQ         wshift+40(FP), X14
	VPBROADCASTD fk<>+0(SB), Y10
	VPBROADCASTD fk<>+4(SB), Y11
	VPBROADCASTD fk<>+8(SB), Y12
	VMOVDQU      bytebit<>(SB), Y13
	VPBROADCASTD sevens<>(SB), Y15
	XORQ         AX, AX

floop:
	CMPQ    AX, CX
	JGE     fnone
	VPAND   (SI)(AX*4), Y9, Y0
	VPAND   (DX)(AX*4), Y9, Y1
	VPMULLD Y10, Y0, Y2
	VPMULLD Y11, Y1, Y3
	VPADDD  Y3, Y2, Y2 // word hash
	VPMULLD Y12, Y2, Y4 // bit hash
	VPSRLD  X14, Y2, Y2
	// The eight words, loaded one by one.
	LOAD4(X2, X6)
	VEXTRACTI128 $1, Y2, X3
	LOAD4(X3, X7)
	VINSERTI128 $1, X7, Y6, Y6
	// The bits: in each byte, 1 << (bits 5-7 of the bit hash's byte).
	VPSRLD    $5, Y4, Y4
	VPAND     Y15, Y4, Y4
	VPSHUFB   Y4, Y13, Y5
	VPAND     Y5, Y6, Y6
	VPCMPEQD  Y5, Y6, Y6
	VMOVMSKPS Y6, DI
	TESTL     DI, DI
	JNZ       fhit
	ADDQ      $8, AX
	JMP       floop

fhit:
	BSFL DI, DI
	ADDQ DI, AX
	MOVQ AX, ret+48(FP)
	VZEROUPPER
	RET

fnone:
	MOVQ CX, ret+48(FP)
	VZEROUPPER
	RET
