/* exp, erf and exact GELU written once for every vector width. Included (no include guard: once per width) by
 * simd_avx2.h and simd_avx512.h after
 * they define the vector type V, the name suffix (VNAME) and the operations below; the constants are in
 * lffn_math.h. Each ISA header supplies only what differs: the exp clamp and how 2^n is applied (AVX2 builds
 * it in the exponent bits, AVX-512 uses scalef), and the select (blendv vs mask blend). */
#include "../lffn_math.h"

/* exp(x) with relative error ~1e-7; x below V_EXP_MIN (and -inf) gives exp(V_EXP_MIN). */
static inline __attribute__((always_inline)) V VNAME(lffn_exp)(V x) {
    x = V_MAX(x, V_SET1(V_EXP_MIN));
    const V n = V_ROUND_NEAREST(V_MUL(x, V_SET1(LFFN_EXP_LOG2E)));
    V r = V_FNMADD(n, V_SET1(LFFN_EXP_LN2_HI), x);
    r = V_FNMADD(n, V_SET1(LFFN_EXP_LN2_LO), r);
    V p = V_FMADD(V_SET1(LFFN_EXP_P0), r, V_SET1(LFFN_EXP_P1));
    p = V_FMADD(p, r, V_SET1(LFFN_EXP_P2));
    p = V_FMADD(p, r, V_SET1(LFFN_EXP_P3));
    p = V_FMADD(p, r, V_SET1(LFFN_EXP_P4));
    p = V_FMADD(p, r, V_SET1(LFFN_EXP_P5));
    p = V_FMADD(p, V_MUL(r, r), V_ADD(r, V_SET1(1.0f)));
    return V_MUL_POW2(p, n);
}

static inline __attribute__((always_inline)) V VNAME(lffn_erf)(V x) {
    const V sign = V_SET1(-0.0f);
    const V t = V_MIN(V_ANDNOT(sign, x), V_SET1(LFFN_ERF_CLAMP));
    const V s = V_MUL(x, x);
    /* |x| <= LFFN_ERF_SPLIT */
    V q = V_FMADD(V_SET1(LFFN_ERF_S0), s, V_SET1(LFFN_ERF_S1));
    q = V_FMADD(q, s, V_SET1(LFFN_ERF_S2));
    q = V_FMADD(q, s, V_SET1(LFFN_ERF_S3));
    q = V_FMADD(q, s, V_SET1(LFFN_ERF_S4));
    q = V_FMADD(q, s, V_SET1(LFFN_ERF_S5));
    const V small = V_FMADD(q, x, x);
    /* |x| > LFFN_ERF_SPLIT */
    const V t2 = V_MUL(t, t);
    V r = V_FMADD(V_SET1(LFFN_ERF_B0), t, V_SET1(LFFN_ERF_B1));
    const V u = V_FMADD(V_SET1(LFFN_ERF_B2), t, V_SET1(LFFN_ERF_B3));
    r = V_FMADD(r, t2, u);
    r = V_FMADD(r, t, V_SET1(LFFN_ERF_B4));
    r = V_FMADD(r, t, V_SET1(LFFN_ERF_B5));
    r = V_FMADD(r, t, V_SET1(LFFN_ERF_B6));
    r = V_FMSUB(r, t, t);
    const V big = V_OR(V_SUB(V_SET1(1.0f), VNAME(lffn_exp)(r)), V_AND(sign, x));
    return V_SELECT_GT(t, V_SET1(LFFN_ERF_SPLIT), small, big);
}

/* exact GELU: 0.5 x (1 + erf(x / sqrt 2)) */
static inline __attribute__((always_inline)) V VNAME(lffn_gelu)(V x) {
    const V erf = VNAME(lffn_erf)(V_MUL(x, V_SET1(LFFN_INV_SQRT2_F)));
    const V hx = V_MUL(x, V_SET1(0.5f));
    return V_FMADD(hx, erf, hx);
}

#undef V
#undef VNAME
#undef V_SET1
#undef V_ADD
#undef V_SUB
#undef V_MUL
#undef V_MIN
#undef V_MAX
#undef V_AND
#undef V_OR
#undef V_ANDNOT
#undef V_FMADD
#undef V_FMSUB
#undef V_FNMADD
#undef V_ROUND_NEAREST
#undef V_EXP_MIN
#undef V_MUL_POW2
#undef V_SELECT_GT
