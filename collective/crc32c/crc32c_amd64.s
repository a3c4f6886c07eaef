#include "textflag.h"

// CRC-32C by carry-less multiplication (bit-reflected form, as in Intel's white paper "Fast CRC
// Computation for Generic Polynomials Using PCLMULQDQ Instruction" and the Linux kernel's
// crc32-pclmul code; the constants below are for the Castagnoli polynomial 0x1EDC6F41, derived as
// bitreflect32(x^n mod P) << 1, and are checked by the package tests against hash/crc32).
//
// A 128-bit lane L of running remainder is moved D bits further down the message by
// L.lo*K(D+32) xor L.hi*K(D-32); xoring the data found there keeps the remainder congruent.

// Fold distance 4x512 bits (the 256-byte main loop): K(2080), K(2016), splatted over 4 lanes.
DATA fold2048<>+0(SB)/8, $0xdcb17aa4
DATA fold2048<>+8(SB)/8, $0xb9e02b86
DATA fold2048<>+16(SB)/8, $0xdcb17aa4
DATA fold2048<>+24(SB)/8, $0xb9e02b86
DATA fold2048<>+32(SB)/8, $0xdcb17aa4
DATA fold2048<>+40(SB)/8, $0xb9e02b86
DATA fold2048<>+48(SB)/8, $0xdcb17aa4
DATA fold2048<>+56(SB)/8, $0xb9e02b86
GLOBL fold2048<>(SB), RODATA, $64

// Fold distance 512 bits: K(544), K(480).
DATA fold512<>+0(SB)/8, $0x740eef02
DATA fold512<>+8(SB)/8, $0x9e4addf8
DATA fold512<>+16(SB)/8, $0x740eef02
DATA fold512<>+24(SB)/8, $0x9e4addf8
DATA fold512<>+32(SB)/8, $0x740eef02
DATA fold512<>+40(SB)/8, $0x9e4addf8
DATA fold512<>+48(SB)/8, $0x740eef02
DATA fold512<>+56(SB)/8, $0x9e4addf8
GLOBL fold512<>(SB), RODATA, $64

// Fold distance 128 bits: K(160), K(96).
DATA fold128<>+0(SB)/8, $0xf20c0dfe
DATA fold128<>+8(SB)/8, $0x14cd00bd6
GLOBL fold128<>(SB), RODATA, $16

// 64 -> 32 bit step: K(64).
DATA fold64<>+0(SB)/8, $0xdd45aab8
GLOBL fold64<>(SB), RODATA, $8

// Barrett reduction: P' (reflected, 33 bits) and u' = reflect33(floor(x^64 / P)).
DATA barrett<>+0(SB)/8, $0x105ec76f1
DATA barrett<>+8(SB)/8, $0xdea713f1
GLOBL barrett<>(SB), RODATA, $16

// func foldCastagnoli(crc uint32, p []byte) uint32
// len(p) >= 256 and a multiple of 16; crc is not inverted.
TEXT ·foldCastagnoli(SB), NOSPLIT, $0-36
	MOVL crc+0(FP), AX
	MOVQ p_base+8(FP), SI
	MOVQ p_len+16(FP), CX

	// Four 512-bit accumulators hold the first 256 bytes, the initial CRC xored into the first word.
	VMOVDQU64 (SI), Z1
	VMOVDQU64 64(SI), Z2
	VMOVDQU64 128(SI), Z3
	VMOVDQU64 192(SI), Z4
	VPXORQ    Z10, Z10, Z10
	VMOVD     AX, X10 // VEX encoding zeroes the rest of Z10
	VPXORQ    Z10, Z1, Z1
	ADDQ      $256, SI
	SUBQ      $256, CX
	CMPQ      CX, $256
	JB        combine

	VMOVDQU64 fold2048<>(SB), Z0

loop256:
	VMOVDQU64  (SI), Z11
	VMOVDQU64  64(SI), Z12
	VMOVDQU64  128(SI), Z13
	VMOVDQU64  192(SI), Z14
	VPCLMULQDQ $0x11, Z0, Z1, Z5
	VPCLMULQDQ $0x00, Z0, Z1, Z1
	VPCLMULQDQ $0x11, Z0, Z2, Z6
	VPCLMULQDQ $0x00, Z0, Z2, Z2
	VPCLMULQDQ $0x11, Z0, Z3, Z7
	VPCLMULQDQ $0x00, Z0, Z3, Z3
	VPCLMULQDQ $0x11, Z0, Z4, Z8
	VPCLMULQDQ $0x00, Z0, Z4, Z4
	VPTERNLOGD $0x96, Z11, Z5, Z1
	VPTERNLOGD $0x96, Z12, Z6, Z2
	VPTERNLOGD $0x96, Z13, Z7, Z3
	VPTERNLOGD $0x96, Z14, Z8, Z4
	ADDQ       $256, SI
	SUBQ       $256, CX
	CMPQ       CX, $256
	JAE        loop256

combine:
	// Z1 <- fold512(fold512(fold512(Z1) ^ Z2) ^ Z3) ^ Z4
	VMOVDQU64  fold512<>(SB), Z0
	VPCLMULQDQ $0x11, Z0, Z1, Z5
	VPCLMULQDQ $0x00, Z0, Z1, Z1
	VPTERNLOGD $0x96, Z2, Z5, Z1
	VPCLMULQDQ $0x11, Z0, Z1, Z5
	VPCLMULQDQ $0x00, Z0, Z1, Z1
	VPTERNLOGD $0x96, Z3, Z5, Z1
	VPCLMULQDQ $0x11, Z0, Z1, Z5
	VPCLMULQDQ $0x00, Z0, Z1, Z1
	VPTERNLOGD $0x96, Z4, Z5, Z1
	CMPQ       CX, $64
	JB         lanes

loop64:
	VMOVDQU64  (SI), Z11
	VPCLMULQDQ $0x11, Z0, Z1, Z5
	VPCLMULQDQ $0x00, Z0, Z1, Z1
	VPTERNLOGD $0x96, Z11, Z5, Z1
	ADDQ       $64, SI
	SUBQ       $64, CX
	CMPQ       CX, $64
	JAE        loop64

lanes:
	// The four 128-bit lanes of Z1 into X1..X4, then fold them into X1 128 bits at a time.
	VEXTRACTI32X4 $1, Z1, X2
	VEXTRACTI32X4 $2, Z1, X3
	VEXTRACTI32X4 $3, Z1, X4
	VZEROUPPER

	MOVOU     fold128<>(SB), X0
	MOVOA     X1, X5
	PCLMULQDQ $0x00, X0, X1
	PCLMULQDQ $0x11, X0, X5
	PXOR      X5, X1
	PXOR      X2, X1
	MOVOA     X1, X5
	PCLMULQDQ $0x00, X0, X1
	PCLMULQDQ $0x11, X0, X5
	PXOR      X5, X1
	PXOR      X3, X1
	MOVOA     X1, X5
	PCLMULQDQ $0x00, X0, X1
	PCLMULQDQ $0x11, X0, X5
	PXOR      X5, X1
	PXOR      X4, X1

	CMPQ CX, $16
	JB   finish

loop16:
	MOVOU     (SI), X10
	MOVOA     X1, X5
	PCLMULQDQ $0x00, X0, X1
	PCLMULQDQ $0x11, X0, X5
	PXOR      X5, X1
	PXOR      X10, X1
	ADDQ      $16, SI
	SUBQ      $16, CX
	CMPQ      CX, $16
	JAE       loop16

finish:
	// 128 -> 64 bits: the low qword times K(96) into the high one.
	PCMPEQB   X3, X3
	PCLMULQDQ $0x01, X1, X0
	PSRLDQ    $8, X1
	PXOR      X0, X1

	// 64 -> 32 bits.
	MOVOA     X1, X2
	MOVQ      fold64<>(SB), X0
	PSRLQ     $32, X3 // X3 = 32-bit mask per qword
	PSRLDQ    $4, X2
	PAND      X3, X1
	PCLMULQDQ $0x00, X0, X1
	PXOR      X2, X1

	// Barrett reduction to the 32-bit remainder.
	MOVOU     barrett<>(SB), X0
	MOVOA     X1, X2
	PAND      X3, X1
	PCLMULQDQ $0x10, X0, X1
	PAND      X3, X1
	PCLMULQDQ $0x00, X0, X1
	PXOR      X2, X1

	PEXTRD $1, X1, AX
	MOVL   AX, ret+32(FP)
	RET
