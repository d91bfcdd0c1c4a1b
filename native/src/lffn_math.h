/* Constants of the exp, erf and GELU approximations, shared by the reference (gemm.c) and the vector paths
 * (x86/simd_math.h), so each value is written once. */
#ifndef LFFN_MATH_H
#define LFFN_MATH_H

/* exact GELU: 0.5 x (1 + erf(x / sqrt 2)) */
#define LFFN_INV_SQRT2 0.70710678118654752440
#define LFFN_INV_SQRT2_F 0.70710678118654752f

/* exp(x): Cephes, n = round(x log2 e), r = x - n ln 2 (ln 2 split in two), exp(r) by a degree-5 polynomial. */
#define LFFN_EXP_LOG2E 1.44269504088896341f
#define LFFN_EXP_LN2_HI 0.693359375f
#define LFFN_EXP_LN2_LO (-2.12194440e-4f)
#define LFFN_EXP_P0 1.9875691500e-4f
#define LFFN_EXP_P1 1.3981999507e-3f
#define LFFN_EXP_P2 8.3334519073e-3f
#define LFFN_EXP_P3 4.1665795894e-2f
#define LFFN_EXP_P4 1.6666665459e-1f
#define LFFN_EXP_P5 5.0000001201e-1f

/* erf(x): Norbert Juffa's float erf (max error ~1 ulp): an odd polynomial (S0..S5 in x^2) up to |x| =
 * LFFN_ERF_SPLIT, else 1 - exp(poly(|x|)) (B0..B6) with |x| clamped to LFFN_ERF_CLAMP, where erf is 1 in float. */
#define LFFN_ERF_SPLIT 0.927734375f
#define LFFN_ERF_CLAMP 4.0f
#define LFFN_ERF_S0 (-5.96761703e-4f)
#define LFFN_ERF_S1 4.99119423e-3f
#define LFFN_ERF_S2 (-2.67681349e-2f)
#define LFFN_ERF_S3 1.12819925e-1f
#define LFFN_ERF_S4 (-3.76125336e-1f)
#define LFFN_ERF_S5 1.28379166e-1f
#define LFFN_ERF_B0 (-1.72853470e-5f)
#define LFFN_ERF_B1 3.83197126e-4f
#define LFFN_ERF_B2 (-3.88396438e-3f)
#define LFFN_ERF_B3 2.42546219e-2f
#define LFFN_ERF_B4 (-1.06777877e-1f)
#define LFFN_ERF_B5 (-6.34846687e-1f)
#define LFFN_ERF_B6 (-1.28717512e-1f)

#endif
