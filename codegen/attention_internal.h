/* Internals shared by the two implementations of the fused attention
 * kernels (codegen/attention_fused.c: the portable path, tile products as
 * oneDNN sgemm calls; codegen/attention_tile.c: AVX-512 register-blocked
 * tile micro-kernels, chosen at run time when the host has AVX-512F).
 * DESIGN.md "Fused attention tile kernels". */
#ifndef HG_ATTENTION_INTERNAL_H
#define HG_ATTENTION_INTERNAL_H

#include <stdint.h>

/* The shapes and data of one attention (q [B,H,Nq,D], k [B,H,Nk,D],
 * v [B,H,Nk,Dv], mask broadcast to [B,H,Nq,Nk] with element strides mst,
 * and for the backward o, lse [B,H,Nq], do) and its outputs (NULL when
 * not wanted). */
typedef struct {
    int64_t B, H, Nq, Nk, D, Dv, mst[4];
    float scale;
    const float *q, *k, *v, *mask, *o, *lse, *dout;
    float *out_o, *out_lse, *dq, *dk, *dv;
    /* the vector path's mask as bits (hg_attn_tile_mask_bits), or NULL */
    const uint16_t *mbits;
} hg_attn;

/* exp(x) in f32 (Cephes expf): x = n ln2 + r, |r| <= ln2/2, a degree-6
 * polynomial in r, 2^n through the exponent bits; 0 below HG_EXP_LO. The
 * constants, used by the scalar exp of attention_fused.c and the vector
 * exp of attention_tile.c. */
#define HG_EXP_LO (-87.3f)
#define HG_EXP_HI 88.0f
#define HG_EXP_LOG2E 1.44269504f
#define HG_EXP_LN2_HI 0.693359375f
#define HG_EXP_LN2_LO (-2.12194440e-4f)
#define HG_EXP_P0 1.9875691500e-4f
#define HG_EXP_P1 1.3981999507e-3f
#define HG_EXP_P2 8.3334519073e-3f
#define HG_EXP_P3 4.1665795894e-2f
#define HG_EXP_P4 1.6666665459e-1f
#define HG_EXP_P5 5.0000001201e-1f

/* The mask row of query i of head (b, h): element j of it at [j * mst[3]]. */
static inline const float *hg_attn_mask_row(const hg_attn *a, int64_t b, int64_t h, int64_t i) {
    return a->mask + b * a->mst[0] + h * a->mst[1] + i * a->mst[2];
}

/* attention_fused.c, the forward's per-query-tile steps both paths share:
 * hg_attn_fwd_begin sets the running max m[0:nr] to -inf, the sums l to 0
 * and the O accumulator acc [nr, Dv] to 0 (if a->out_o); hg_attn_fwd_end
 * writes rows i0 .. i0 + nr - 1 of head bh: lse = m + log l, O = acc / l,
 * and for a row with no key kept (l = 0) lse = -inf and O the mean of V
 * over all keys (the op's uniform softmax). */
void hg_attn_fwd_begin(const hg_attn *a, int64_t nr, float *m, float *l, float *acc);
void hg_attn_fwd_end(const hg_attn *a, int64_t bh, int64_t i0, int64_t nr, const float *m,
                     const float *l, const float *acc);

/* attention_tile.c. hg_attn_tile_ok: 1 when the vector path can run a
 * (host with AVX-512F, D and Dv multiples of 16 up to 64), 0 otherwise.
 * hg_attn_tile_scratch: floats of per-thread scratch the vector path
 * needs for a. hg_attn_tile_fwd_head / hg_attn_tile_bwd_head: head bh
 * (b * H + h) of the forward (out_o, out_lse, those set) or the backward
 * (dq, dk, dv, those set), same semantics as the portable path; scratch
 * of hg_attn_tile_scratch floats, 64-byte aligned. */
int hg_attn_tile_ok(const hg_attn *a);
/* The mask of a as bits, one uint16 per 16 keys (bit j: key 16 w + j is
 * kept), rows over the mask's own broadcast dims (b if mst[0], h if
 * mst[1], i if mst[2]; Nk keys each). hg_attn_tile_mask_words: uint16s
 * of it; hg_attn_tile_mask_bits fills bits (OpenMP over rows). */
int64_t hg_attn_tile_mask_words(const hg_attn *a);
void hg_attn_tile_mask_bits(const hg_attn *a, uint16_t *bits);
int64_t hg_attn_tile_scratch(const hg_attn *a, int backward);
void hg_attn_tile_fwd_head(const hg_attn *a, int64_t bh, float *scratch);
void hg_attn_tile_bwd_head(const hg_attn *a, int64_t bh, float *scratch);

#endif
