/*
 * lookupffn.h: the one public C header of liblookupffn.
 *
 * Conventions (see docs/ABI.md):
 *  - names are lffn_<object>_<verb>[_<dtype>]; every kernel returns lffn_status_t (0 = success);
 *  - sizes and leading dimensions are int64_t and count elements; matrices are row-major;
 *  - the caller (Java) owns every buffer: the library borrows pointers for the duration of a call,
 *    never stores, frees or returns them; inputs are const, outputs are written, nothing may alias
 *    unless a function says so (the prototypes mark such pointers restrict);
 *  - kernels are single-threaded and reentrant: callers split rows across threads. The only global
 *    state is the ISA cap (lffn_set_max_isa); the only per-thread state is the last error message
 *    (lffn_last_error).
 */
#ifndef LFFN_LOOKUPFFN_H
#define LFFN_LOOKUPFFN_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define LFFN_API __declspec(dllexport)
#else
#define LFFN_API __attribute__((visibility("default")))
#endif

#if defined(__cplusplus)
#define LFFN_RESTRICT_PTR __restrict__
#else
#define LFFN_RESTRICT_PTR restrict
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Status of every kernel. Values are never reused. */
typedef enum {
    LFFN_SUCCESS = 0,
    LFFN_INVALID_ARGUMENTS = 1,
    LFFN_UNSUPPORTED_ISA = 2,
    LFFN_OUT_OF_MEMORY = 3,
    LFFN_RUNTIME_ERROR = 4
} lffn_status_t;

/* Instruction-set levels, ordered: each includes the previous one. */
typedef enum {
    LFFN_ISA_SCALAR = 0,
    LFFN_ISA_AVX2 = 1,        /* AVX2 + FMA */
    LFFN_ISA_AVX512 = 2,      /* AVX-512 F/BW/VL/DQ */
    LFFN_ISA_AVX512_BF16 = 3  /* AVX-512 + AVX512_BF16 (vdpbf16ps): only the bf16 GEMM differs from AVX512 */
} lffn_isa_t;

/* Element-wise function fused after a GEMM's bias. */
typedef enum {
    LFFN_EPILOGUE_NONE = 0,
    LFFN_EPILOGUE_GELU = 1 /* exact GELU: 0.5 x (1 + erf(x / sqrt 2)) */
} lffn_epilogue_t;

/* ---- library queries (pure: they return their value) ---- */

/* Version string "MAJOR.MINOR.PATCH"; static storage, owned by the library. */
LFFN_API const char *lffn_version(void);

/* Human-readable name of a status; static storage, owned by the library. */
LFFN_API const char *lffn_status_str(lffn_status_t status);

/* What the last failed call on the calling thread rejected: "function: check failed: condition" (the first
 * failed argument check), or "" when no call on this thread has failed. Read it right after the failing call,
 * on the same thread; a later failure overwrites it. Thread-local storage, owned by the library. */
LFFN_API const char *lffn_last_error(void);

/* Highest ISA level this CPU (and OS) supports. */
LFFN_API lffn_isa_t lffn_cpu_isa(void);

/* Caps the ISA used by every kernel (for tests and comparisons). Returns LFFN_UNSUPPORTED_ISA when the
 * CPU lacks isa, LFFN_INVALID_ARGUMENTS when isa is not an lffn_isa_t value. Process-wide. */
LFFN_API lffn_status_t lffn_set_max_isa(lffn_isa_t isa);

/* The ISA kernels use now: min(lffn_cpu_isa(), cap). */
LFFN_API lffn_isa_t lffn_get_effective_isa(void);

/* Does nothing; measures the cost of one downcall. */
LFFN_API lffn_status_t lffn_noop(void);

/* ---- LayerNorm over rows ----
 * y[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta, biased variance.
 * x: borrowed, read [rows, cols] with leading dimension ldx; gamma, beta: borrowed, read [cols];
 * y: borrowed, written [rows, cols] with leading dimension ldy. x and y may be the same buffer. */
LFFN_API lffn_status_t lffn_layernorm_f32(int64_t rows, int64_t cols, const float *x, int64_t ldx,
                                          const float *gamma, const float *beta, float eps, float *y,
                                          int64_t ldy);

/* y[r, :] = LayerNorm(a[r, :] + b[r, :]) · gamma + beta: the residual add (rounded to fp32) and the LayerNorm of
 * a post-norm transformer in one pass. a, b: borrowed, read [rows, cols] with lda, ldb; gamma, beta: borrowed,
 * read [cols]; y: borrowed, written [rows, cols], ld ldy; y may be a or b (the same buffer and leading
 * dimension), otherwise nothing may overlap y. */
LFFN_API lffn_status_t lffn_add_layernorm_f32(int64_t rows, int64_t cols, const float *a, int64_t lda,
                                              const float *b, int64_t ldb, const float *gamma, const float *beta,
                                              float eps, float *y, int64_t ldy);

/* ---- conversions ---- */

/* dst[i] = bf16(src[i]), round to nearest even (NaN stays NaN). src: borrowed, read [n]; dst: borrowed,
 * written [n]. */
LFFN_API lffn_status_t lffn_convert_f32_to_bf16(int64_t n, const float *LFFN_RESTRICT_PTR src,
                                                uint16_t *LFFN_RESTRICT_PTR dst);

/* ---- BH4 hash projection (SPEC.md step 2) ----
 * Bytes of scratch lffn_bh4_project_f32 needs for `rows` rows of padded width padded_dim. */
LFFN_API int64_t lffn_bh4_workspace_size(int64_t rows, int64_t padded_dim);

/* z[r, 0:out_dim] = first out_dim values of concat_r(0.7 * BH4_r(u_pad) + 0.3 * u_pad) + bias.
 * dim: width of u (d); padded_dim: P = next power of two >= dim; block: b, divides P;
 * repeats: R, with R * P >= out_dim; out_dim: h * tau.
 * u: borrowed, read [rows, dim], ld ldu; weight: borrowed, read [repeats, 4, P/b, b, b] ([out, in] blocks);
 * bias: borrowed, read [out_dim], may be NULL; workspace: borrowed, scratch of lffn_bh4_workspace_size bytes,
 * 64-byte aligned; z: borrowed, written [rows, out_dim], ld ldz. */
LFFN_API lffn_status_t lffn_bh4_project_f32(int64_t rows, int64_t dim, int64_t padded_dim, int64_t block,
                                            int64_t repeats, int64_t out_dim, const float *LFFN_RESTRICT_PTR u,
                                            int64_t ldu, const float *LFFN_RESTRICT_PTR weight,
                                            const float *LFFN_RESTRICT_PTR bias, void *LFFN_RESTRICT_PTR workspace,
                                            float *LFFN_RESTRICT_PTR z, int64_t ldz);

/* Bytes of the packed form of BH4 weights for lffn_lookupffn_forward_f32 (the repeats that reach out_dim, in a
 * private layout: for blocks up to 128 the in-block Hadamard stages are folded into the weights once, here,
 * instead of on every call); -1 for invalid sizes (the same rules as lffn_bh4_project_f32, or a size that
 * overflows int64_t). */
LFFN_API int64_t lffn_bh4_pack_size_f32(int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats,
                                        int64_t out_dim);

/* Packs weight ([repeats, 4, P/b, b, b] as for lffn_bh4_project_f32) once at load. weight: borrowed, read;
 * packed: borrowed, written, lffn_bh4_pack_size_f32 bytes, 64-byte aligned, must not overlap weight. */
LFFN_API lffn_status_t lffn_bh4_pack_f32(int64_t dim, int64_t padded_dim, int64_t block, int64_t repeats,
                                         int64_t out_dim, const float *LFFN_RESTRICT_PTR weight,
                                         void *LFFN_RESTRICT_PTR packed);

/* ---- hash code and score (SPEC.md step 3) ----
 * For table k of each row: code = MSB-first sign bits of z[k*tau .. k*tau+tau-1] (> 0 is 1),
 * score = sum|z| / prod(1 + exp(-2|z|)). z: borrowed, read [rows, tables*tau], ld ldz;
 * code: borrowed, written [rows, tables], ld ldcode; score: borrowed, written [rows, tables], ld ldscore.
 * tau in 1..16. */
LFFN_API lffn_status_t lffn_hash_code_score_f32(int64_t rows, int64_t tables, int64_t tau,
                                                const float *LFFN_RESTRICT_PTR z, int64_t ldz,
                                                int32_t *LFFN_RESTRICT_PTR code, int64_t ldcode,
                                                float *LFFN_RESTRICT_PTR score, int64_t ldscore);

/* ---- GEMM: C[m, n] = epilogue(A[m, k] . op(B) + bias[n]) ----
 * op(B) = B ([k, n], ld ldb) when trans_b == 0, B^T when trans_b != 0 (B is [n, k], ld ldb, the nn.Linear
 * weight layout). a: borrowed, read, ld lda; b: borrowed, read; bias: borrowed, read [n], may be NULL;
 * c: borrowed, written [m, n], ld ldc (overwritten, not accumulated). */
LFFN_API lffn_status_t lffn_gemm_f32(int64_t m, int64_t n, int64_t k, const float *LFFN_RESTRICT_PTR a, int64_t lda,
                                     const float *LFFN_RESTRICT_PTR b, int64_t ldb, int32_t trans_b,
                                     const float *LFFN_RESTRICT_PTR bias, lffn_epilogue_t epilogue,
                                     float *LFFN_RESTRICT_PTR c, int64_t ldc);

/* Bytes of the packed form of a [k, n] right-hand matrix (independent of the ISA); 0 when n or k is not
 * positive, -1 when the size overflows int64_t. */
LFFN_API int64_t lffn_gemm_pack_b_size_f32(int64_t n, int64_t k);

/* Packs op(B) once so that many lffn_gemm_packed_f32 calls (e.g. one per thread's row range) reuse it.
 * b: borrowed, read; packed: borrowed, written, lffn_gemm_pack_b_size_f32(n, k) bytes, 64-byte aligned
 * (else LFFN_INVALID_ARGUMENTS). */
LFFN_API lffn_status_t lffn_gemm_pack_b_f32(int64_t n, int64_t k, const float *LFFN_RESTRICT_PTR b, int64_t ldb,
                                            int32_t trans_b, float *LFFN_RESTRICT_PTR packed);

/* As lffn_gemm_f32 with B given packed by lffn_gemm_pack_b_f32 (same n, k). packed_b: borrowed, read, 64-byte
 * aligned (else LFFN_INVALID_ARGUMENTS). */
LFFN_API lffn_status_t lffn_gemm_packed_f32(int64_t m, int64_t n, int64_t k, const float *LFFN_RESTRICT_PTR a,
                                            int64_t lda, const float *LFFN_RESTRICT_PTR packed_b,
                                            const float *LFFN_RESTRICT_PTR bias, lffn_epilogue_t epilogue,
                                            float *LFFN_RESTRICT_PTR c, int64_t ldc);

/* ---- GEMM with bf16 weights: C[m, n] = epilogue(A[m, k] . op(B) + bias[n]), A and C fp32 ----
 * B is rounded to bf16 (round to nearest even) once, at packing; products are summed in fp32. On
 * LFFN_ISA_AVX512_BF16 A is rounded to bf16 too (vdpbf16ps multiplies bf16 pairs); the AVX-512, AVX2 and
 * scalar paths keep A in fp32 and widen B in registers. Packed layout (ISA-independent): panels of 32 columns,
 * each panel contiguous ((k + 1) / 2 * 64 bf16 values), so a column range that starts on a multiple of 32 is a
 * plain slice of the packed bytes at column / 32 * lffn_gemm_pack_b_size_bf16(32, k).
 * Bytes of the packed form of a [k, n] right-hand matrix; 0 when n or k is not positive, -1 on overflow. */
LFFN_API int64_t lffn_gemm_pack_b_size_bf16(int64_t n, int64_t k);

/* Packs op(B) (fp32, as lffn_gemm_pack_b_f32 takes it) into bf16. b: borrowed, read; packed: borrowed, written,
 * lffn_gemm_pack_b_size_bf16(n, k) bytes, 64-byte aligned (else LFFN_INVALID_ARGUMENTS). */
LFFN_API lffn_status_t lffn_gemm_pack_b_bf16(int64_t n, int64_t k, const float *LFFN_RESTRICT_PTR b, int64_t ldb,
                                             int32_t trans_b, uint16_t *LFFN_RESTRICT_PTR packed);

/* As lffn_gemm_packed_f32 with B packed by lffn_gemm_pack_b_bf16 (same n, k). packed_b: borrowed, read, 64-byte
 * aligned (else LFFN_INVALID_ARGUMENTS). */
LFFN_API lffn_status_t lffn_gemm_packed_bf16(int64_t m, int64_t n, int64_t k, const float *LFFN_RESTRICT_PTR a,
                                             int64_t lda, const uint16_t *LFFN_RESTRICT_PTR packed_b,
                                             const float *LFFN_RESTRICT_PTR bias, lffn_epilogue_t epilogue,
                                             float *LFFN_RESTRICT_PTR c, int64_t ldc);

/* ---- weighted gather-accumulate (SPEC.md step 4) over packed tables (load-time layout, like GEMM's packed B)
 * out[r, :] = sum_k score[r, k] * table[k * 2^tau + code[r, k], :] + bias, the sum over k in order, in fp32.
 * The packed form splits the [tables * 2^tau, out_dim] table matrix into column chunks of C = 64 columns
 * and stores each (chunk, table) slice contiguously: [ceil(out_dim / C)][tables][2^tau][C], the tail chunk
 * zero-padded; int8 tables add their scales behind the values, fp32, the scales of one table row for up to 8
 * consecutive chunks side by side ([ceil(chunks / 8)][tables][2^tau][min(8, chunks left)]). Inside a
 * row piece the elements are permuted so that widening needs no shuffles (bf16: value 2i is column i, value 2i+1
 * column 16 + i of each 32-column block; int8: byte 4i + j is column 16 j + i). The layout is private to the
 * library: only the lffn_tables_pack_* functions write it and only the functions below read it; it does not
 * depend on the ISA. */

/* Element type of packed tables. Products and sums are always fp32. */
typedef enum {
    LFFN_TABLE_F32 = 0,
    LFFN_TABLE_BF16 = 1, /* bf16 values, widened exactly */
    LFFN_TABLE_I8 = 2    /* int8 values q with one fp32 scale per (table row, 64-column chunk): value = q * scale */
} lffn_table_dtype_t;

/* Bytes of the packed form of `tables` tables of 2^tau rows of width out_dim stored as table_dtype; -1 for
 * invalid sizes or an unknown table_dtype. */
LFFN_API int64_t lffn_tables_pack_size(int64_t tables, int64_t tau, int64_t out_dim, lffn_table_dtype_t table_dtype);

/* Packs table ([tables * 2^tau, out_dim] fp32, row-major) once, converting to table_dtype: bf16 rounds to nearest
 * even; int8 quantizes as lffn_tables_quantize_i8 (every value must then be finite, else LFFN_INVALID_ARGUMENTS).
 * table: borrowed, read; packed: borrowed, written, lffn_tables_pack_size bytes, 64-byte aligned. */
LFFN_API lffn_status_t lffn_tables_pack_f32(int64_t tables, int64_t tau, int64_t out_dim,
                                            const float *LFFN_RESTRICT_PTR table, lffn_table_dtype_t table_dtype,
                                            void *LFFN_RESTRICT_PTR packed);

/* Symmetric int8 quantization per (table row, 64-column chunk): scale = max|x| / 127 over the chunk's columns (0
 * for an all-zero chunk), q = x / scale rounded to nearest (ties to even), clamped to [-127, 127] (0 where scale
 * is 0); both divisions in fp32. table: borrowed, read [tables * 2^tau, out_dim], every value finite (else
 * LFFN_INVALID_ARGUMENTS); q: borrowed, written [tables * 2^tau, out_dim]; scale: borrowed, written
 * [tables * 2^tau, ceil(out_dim / 64)]. */
LFFN_API lffn_status_t lffn_tables_quantize_i8(int64_t tables, int64_t tau, int64_t out_dim,
                                               const float *LFFN_RESTRICT_PTR table, int8_t *LFFN_RESTRICT_PTR q,
                                               float *LFFN_RESTRICT_PTR scale);

/* Packs int8 tables given quantized (q [tables * 2^tau, out_dim] and scale [tables * 2^tau, ceil(out_dim / 64)],
 * row-major, as lffn_tables_quantize_i8 writes them) into the LFFN_TABLE_I8 packed form. Scales must be finite
 * and >= 0 (else LFFN_INVALID_ARGUMENTS). q, scale: borrowed, read; packed: borrowed, written,
 * lffn_tables_pack_size(..., LFFN_TABLE_I8) bytes, 64-byte aligned. */
LFFN_API lffn_status_t lffn_tables_pack_i8(int64_t tables, int64_t tau, int64_t out_dim,
                                           const int8_t *LFFN_RESTRICT_PTR q, const float *LFFN_RESTRICT_PTR scale,
                                           void *LFFN_RESTRICT_PTR packed);

/* Packs bf16 tables given as bf16 bits ([tables * 2^tau, out_dim], row-major) into the LFFN_TABLE_BF16 packed form
 * (no rounding: the values are kept as given). table_bf16: borrowed, read; packed: borrowed, written,
 * lffn_tables_pack_size(..., LFFN_TABLE_BF16) bytes, 64-byte aligned. */
LFFN_API lffn_status_t lffn_tables_pack_bf16(int64_t tables, int64_t tau, int64_t out_dim,
                                             const uint16_t *LFFN_RESTRICT_PTR table_bf16,
                                             void *LFFN_RESTRICT_PTR packed);

/* The gather-accumulate with the table given packed (lffn_tables_pack_*) with the same tables, tau, out_dim and
 * table_dtype (bf16 and int8 values are widened to fp32; int8: each term is (score * scale) * q; products and sums
 * stay fp32). Made for many rows per call (each table slice is brought into cache once per call and reused by
 * every row). code: borrowed, read [rows, tables], each in [0, 2^tau) (else LFFN_INVALID_ARGUMENTS, nothing read
 * out of bounds); score: borrowed, read [rows, tables]; packed: borrowed, read, 64-byte aligned; bias: borrowed,
 * read [out_dim], may be NULL; out: borrowed, written [rows, out_dim], ld ldout. */
LFFN_API lffn_status_t lffn_gather_accum_packed(int64_t rows, int64_t tables, int64_t tau, int64_t out_dim,
                                                const int32_t *LFFN_RESTRICT_PTR code, int64_t ldcode,
                                                const float *LFFN_RESTRICT_PTR score, int64_t ldscore,
                                                const void *LFFN_RESTRICT_PTR packed, lffn_table_dtype_t table_dtype,
                                                const float *LFFN_RESTRICT_PTR bias, float *LFFN_RESTRICT_PTR out,
                                                int64_t ldout);

/* ---- the whole LookupFFN layer with a BH4 projection (SPEC.md steps 1-4) ----
 * Bytes of scratch lffn_lookupffn_forward_f32 needs for `rows` rows (it is capped: beyond some row count
 * the kernel works in tiles and the size stops growing); -1 for invalid sizes. */
LFFN_API int64_t lffn_lookupffn_workspace_size(int64_t rows, int64_t dim, int64_t padded_dim, int64_t tables,
                                               int64_t tau);

/* out[r, :] = gather(hash(BH4(LayerNorm(x[r, :])))) for each row: LayerNorm (ln_weight, ln_bias, eps,
 * biased variance), then the BH4 projection to tables * tau values (as lffn_bh4_project_f32 with out_dim =
 * tables * tau), code and score per table (as lffn_hash_code_score_f32) and the gather-accumulate over the
 * packed tables (as lffn_gather_accum_packed). dim, padded_dim, block, repeats as lffn_bh4_project_f32;
 * tables, tau, out_dim, table_dtype as lffn_tables_pack_size. The intermediates never leave the workspace. Call with many
 * rows (thousands) per thread: the gather reuses each table slice across all rows of a call's tile.
 * x: borrowed, read [rows, dim], ld ldx; ln_weight, ln_bias: borrowed, read [dim]; packed_proj: borrowed,
 * read, the BH4 weights packed by lffn_bh4_pack_f32(dim, padded_dim, block, repeats, tables * tau), 64-byte
 * aligned; proj_bias: borrowed, read [tables * tau], may be NULL; packed_tables:
 * borrowed, read (packed by lffn_tables_pack_* as table_dtype), 64-byte aligned; bias: borrowed, read [out_dim],
 * may be NULL; workspace: borrowed, scratch of lffn_lookupffn_workspace_size bytes, 64-byte aligned, one per
 * concurrent call; out: borrowed, written [rows, out_dim], ld ldout (must not alias x). */
LFFN_API lffn_status_t lffn_lookupffn_forward_f32(int64_t rows, int64_t dim, int64_t padded_dim, int64_t block,
                                                  int64_t repeats, int64_t tables, int64_t tau, int64_t out_dim,
                                                  const float *x, int64_t ldx, const float *ln_weight,
                                                  const float *ln_bias, float eps, const void *packed_proj,
                                                  const float *proj_bias, const void *packed_tables,
                                                  lffn_table_dtype_t table_dtype,
                                                  const float *bias, void *workspace, float *LFFN_RESTRICT_PTR out,
                                                  int64_t ldout);

/* ---- attention (the encoder's self-attention; see docs/ABI.md) ----
 * Masked softmax over rows: y[r, c] = exp(s[r, c] - max_c s[r, :]) / sum_c exp(...) with
 * s[r, c] = x[r, c] * scale + mask_add[c] (mask_add == NULL: no mask). Each row should have a finite entry.
 * x: borrowed, read [rows, cols], ld ldx; mask_add: borrowed, read [cols], may be NULL; y: borrowed, written
 * [rows, cols], ld ldy. x and y may be the same buffer. */
LFFN_API lffn_status_t lffn_softmax_rows_f32(int64_t rows, int64_t cols, const float *x, int64_t ldx, float scale,
                                            const float *mask_add, float *y, int64_t ldy);

/* Element-wise add over rows: y[r, c] = a[r, c] + b[r, c] (the residual connections). a, b: borrowed, read
 * [rows, cols] with lda, ldb; y: borrowed, written [rows, cols], ld ldy; y may be a or b. */
LFFN_API lffn_status_t lffn_add_f32(int64_t rows, int64_t cols, const float *a, int64_t lda, const float *b,
                                   int64_t ldb, float *y, int64_t ldy);

/* Bytes of scratch lffn_attention_f32 needs for one sequence of seq_len tokens; -1 for invalid sizes. */
LFFN_API int64_t lffn_attention_workspace_size(int64_t seq_len);

/* Self-attention of `heads` consecutive heads of one sequence. Head h reads columns
 * h*head_size .. (h+1)*head_size-1 of q, k, v and writes the same columns of out:
 *   out_h = softmax_rows((q_h . k_h^T) * scale + mask_add) . v_h
 * (the softmax as lffn_softmax_rows_f32; AVX-512 fuses the three steps per head). q, k, v: borrowed, read
 * [seq_len, heads*head_size] with ldq, ldk, ldv (they may be column slices of one fused [T, 3*hidden] QKV
 * matrix); mask_add: borrowed, read [seq_len] (added to every query's scores: 0 for tokens, a large negative
 * value for padding), may be NULL; workspace: borrowed, scratch of lffn_attention_workspace_size(seq_len)
 * bytes, 64-byte aligned, one per concurrent call; out: borrowed, written [seq_len, heads*head_size], ld ldout,
 * must not alias q, k, v. */
LFFN_API lffn_status_t lffn_attention_f32(int64_t seq_len, int64_t heads, int64_t head_size, const float *q,
                                         int64_t ldq, const float *k, int64_t ldk, const float *v, int64_t ldv,
                                         float scale, const float *mask_add, void *workspace, float *out,
                                         int64_t ldout);

/* As lffn_attention_f32 for the queries of rows [0, q_rows) of q against all kv_len keys of k and v: a range of a
 * sequence's queries (q and out point at its first row), so threads can split one sequence's queries. Each output
 * row has the same bits as in the call over all queries. 1 <= q_rows <= kv_len. q: borrowed, read [q_rows,
 * heads*head_size], ld ldq; k, v: borrowed, read [kv_len, heads*head_size] with ldk, ldv; mask_add: borrowed,
 * read [kv_len], may be NULL; workspace: borrowed, scratch of lffn_attention_workspace_size(kv_len) bytes, 64-byte
 * aligned, one per concurrent call; out: borrowed, written [q_rows, heads*head_size], ld ldout, must not alias
 * q, k, v. */
LFFN_API lffn_status_t lffn_attention_rows_f32(int64_t q_rows, int64_t kv_len, int64_t heads, int64_t head_size,
                                              const float *q, int64_t ldq, const float *k, int64_t ldk,
                                              const float *v, int64_t ldv, float scale, const float *mask_add,
                                              void *workspace, float *out, int64_t ldout);

/* ---- measuring the machine ----
 * *sum = x[0] + ... + x[n-1] (any order). Reads every element once: the benchmarks time it over buffers of
 * several sizes to measure cache and DRAM read bandwidth. x: borrowed, read [n]; sum: borrowed, written [1]. */
LFFN_API lffn_status_t lffn_reduce_sum_f32(int64_t n, const float *x, float *sum);

#ifdef __cplusplus
}
#endif

#endif /* LFFN_LOOKUPFFN_H */
