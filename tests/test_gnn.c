/* Tests of the graph score network (SPEC 4.2, models/gnn.c) and of its
 * k-NN graph (models/gnn_graph.c), run with the reference interpreter.
 * Expected values come from a brute-force periodic k-NN written here, from
 * symmetries (periodic shifts, permutations, padding) and from central
 * finite differences in f64. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "hg_test.h"
#include "models/gnn.h"
#include "models/models.h"
#include "passes/passes.h"

HG_LABELS(fast)

/* ------------------------------------------------------------- helpers */

/* Small deterministic generator (splitmix64), independent of the library. */
typedef struct { uint64_t s; } rng;
static double urand(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* Round half to even, written out (not via the library). */
static double round_half_even(double x) {
    double f = floor(x), d = x - f;
    if (d > 0.5) return f + 1;
    if (d < 0.5) return f;
    return fmod(f, 2.0) == 0 ? f : f + 1;
}

static hg_status put(hg_tensor_map *m, const char *name, hg_dtype t, hg_shape s,
                     const double *v) {
    hg_tensor *x;
    hg_status st = hg_map_alloc(m, name, t, s, &x);
    if (st.code) return st;
    for (int64_t i = 0; i < hg_shape_numel(s); i++) hg_tensor_set(x, i, v ? v[i] : 0.0);
    return st;
}

static hg_status put_rng_inputs(hg_tensor_map *m) {
    hg_shape sc = hg_shape_scalar();
    HG_TRY(put(m, "seed", HG_I32, sc, NULL));
    HG_TRY(put(m, "step", HG_I32, sc, NULL));
    return put(m, "replica", HG_I32, sc, NULL);
}

/* Tiny graph-network config of the tests. */
static void tiny_config(hg_config *c, int F) {
    hg_config_default(c);
    c->score = HG_SCORE_GRAPH;
    c->n_features = F;
    c->k = 4;
    c->hidden_size = 8;
    c->latent_size = 4;
    c->num_mlp_layers = 2;
    c->message_passing_steps = 2;
    c->attention = 1;
    c->relative_updates = 1;
    c->use_pbc = 1;
    c->layer_norm = 1;
}

/* Normalisation of the tests: box L = 10, per-axis mean/std deliberately
 * different so that un-normalising is exercised. */
static const double T_MEAN[3] = {5.0, 4.5, 5.5};
static const double T_STD[3] = {2.9, 3.1, 2.7};
static const double T_BOX = 10.0;

/* A score network graph: inputs z [B,N,F], mask [B,N], cc [B,dcc];
 * output "e_hat". */
typedef struct {
    hg_graph *g;
    hg_mb mb;
    hg_value z, mask, cc, e_hat;
} gnn_net;

static hg_status net_build(gnn_net *n, const hg_config *c, hg_dtype t, int64_t B, int64_t N,
                           int64_t F, int64_t dcc) {
    memset(n, 0, sizeof *n);
    n->g = hg_graph_new();
    if (!n->g) return hg_error(HG_ERR_NOMEM, "graph");
    HG_TRY(hg_mb_init(&n->mb, n->g, t));
    n->z = hg_input(n->g, "z", t, hg_shape_of(3, B, N, F));
    n->mask = hg_input(n->g, "mask", t, hg_shape_of(2, B, N));
    n->cc = dcc > 0 ? hg_input(n->g, "cc", t, hg_shape_of(2, B, dcc)) : HG_NONE;
    hg_score_in in;
    memset(&in, 0, sizeof in);
    in.z = n->z;
    in.mask = n->mask;
    in.gamma_t = HG_NONE;
    in.cond = HG_NONE;
    memcpy(in.mean, T_MEAN, sizeof in.mean);
    memcpy(in.std, T_STD, sizeof in.std);
    in.box = T_BOX;
    n->e_hat = hg_gnn_score(&n->mb, c, &in, n->cc);
    hg_set_output(n->g, "e_hat", n->e_hat);
    HG_TRY(hg_graph_status(n->g));
    return hg_verify(n->g);
}

static void net_free(gnn_net *n) {
    hg_mb_free(&n->mb);
    hg_graph_free(n->g);
}

/* Parameters from the builder's initialiser, then every element moved by
 * U(-0.2, 0.2) so that zero-initialised biases and unit LN scales do not
 * make a test vacuous. */
static hg_status init_params(const hg_mb *mb, hg_tensor_map *state, uint64_t seed) {
    HG_TRY(hg_mb_init_params(mb, 7, state));
    rng r = {seed};
    for (int i = 0; i < state->n; i++) {
        hg_tensor *t = &state->e[i].t;
        for (int64_t j = 0; j < hg_shape_numel(t->shape); j++)
            hg_tensor_set(t, j, hg_tensor_get(t, j) + 0.4 * (urand(&r) - 0.5));
    }
    return hg_ok();
}

/* Runs the net; e_hat copied into out (B*N*F doubles). */
static hg_status net_run(const gnn_net *n, hg_tensor_map *state, const double *z,
                         const double *mask, const double *cc, double *out) {
    hg_tensor_map in, o;
    hg_map_init(&in);
    hg_map_init(&o);
    hg_dtype t = hg_value_dtype(n->g, n->z);
    hg_shape zs = hg_value_shape(n->g, n->z);
    hg_status s = put_rng_inputs(&in);
    if (!s.code) s = put(&in, "z", t, zs, z);
    if (!s.code) s = put(&in, "mask", t, hg_value_shape(n->g, n->mask), mask);
    if (!s.code && n->cc != HG_NONE) s = put(&in, "cc", t, hg_value_shape(n->g, n->cc), cc);
    if (!s.code) s = hg_ref_run(n->g, state, &in, &o, NULL);
    if (!s.code) {
        hg_tensor *e = hg_map_get(&o, "e_hat");
        if (!e) s = hg_error(HG_ERR_INVALID, "no e_hat output");
        else
            for (int64_t i = 0; i < hg_shape_numel(zs); i++) out[i] = hg_tensor_get(e, i);
    }
    hg_map_free(&in);
    hg_map_free(&o);
    return s;
}

/* Normalised features of random points: positions uniform in
 * [lo, hi)^3 (Mpc/h) then normalised with T_MEAN/T_STD; other features
 * N(0,1)-ish. */
static void random_z(rng *r, double *z, int64_t B, int64_t N, int64_t F, double lo, double hi) {
    for (int64_t i = 0; i < B * N; i++)
        for (int64_t f = 0; f < F; f++) {
            double u = urand(r);
            z[i * F + f] = f < 3 ? (lo + (hi - lo) * u - T_MEAN[f]) / T_STD[f] : 2 * u - 1;
        }
}

/* ------------------------------------------------- the k-NN graph alone */

typedef struct {
    hg_graph *g;
    hg_value z, mask;
    hg_gnn_edges ed;
} edge_net;

static hg_status edges_build(edge_net *n, hg_dtype t, int64_t B, int64_t N, int64_t F, int k,
                             double box) {
    n->g = hg_graph_new();
    if (!n->g) return hg_error(HG_ERR_NOMEM, "graph");
    n->z = hg_input(n->g, "z", t, hg_shape_of(3, B, N, F));
    n->mask = hg_input(n->g, "mask", t, hg_shape_of(2, B, N));
    HG_TRY(hg_gnn_edges_build(n->g, n->z, n->mask, k, T_MEAN, T_STD, box, &n->ed));
    hg_set_output(n->g, "senders", n->ed.senders);
    hg_set_output(n->g, "receivers", n->ed.receivers);
    hg_set_output(n->g, "keep", n->ed.keep_f);
    hg_set_output(n->g, "features", n->ed.features);
    HG_TRY(hg_graph_status(n->g));
    return hg_verify(n->g);
}

/* Runs it; snd/rcv (B*E ints), keep (B*E), feat (B*E*3). */
static hg_status edges_run(const edge_net *n, const double *z, const double *mask, int *snd,
                           int *rcv, double *keep, double *feat) {
    hg_tensor_map in, o, st;
    hg_map_init(&in);
    hg_map_init(&o);
    hg_map_init(&st);
    hg_dtype t = hg_value_dtype(n->g, n->z);
    hg_status s = put(&in, "z", t, hg_value_shape(n->g, n->z), z);
    if (!s.code) s = put(&in, "mask", t, hg_value_shape(n->g, n->mask), mask);
    if (!s.code) s = hg_ref_run(n->g, &st, &in, &o, NULL);
    if (!s.code) {
        hg_tensor *ts = hg_map_get(&o, "senders"), *tr = hg_map_get(&o, "receivers"),
                  *tk = hg_map_get(&o, "keep"), *tf = hg_map_get(&o, "features");
        int64_t ne = hg_shape_numel(ts->shape);
        for (int64_t i = 0; i < ne; i++) {
            snd[i] = (int)hg_tensor_get(ts, i);
            rcv[i] = (int)hg_tensor_get(tr, i);
            keep[i] = hg_tensor_get(tk, i);
            for (int a = 0; a < 3; a++) feat[i * 3 + a] = hg_tensor_get(tf, i * 3 + a);
        }
    }
    hg_map_free(&in);
    hg_map_free(&o);
    hg_map_free(&st);
    return s;
}

/* Brute force SPEC 4.2 k-NN of normalised z (F features) with mask:
 * expected receivers / senders / features per edge e = i k + r. */
static void brute_knn(const double *z, const double *mask, int64_t B, int64_t N, int64_t F,
                      int k, double box, int *snd, int *rcv, double *feat) {
    for (int64_t b = 0; b < B; b++) {
        double (*p)[3] = malloc((size_t)N * sizeof *p);
        for (int64_t i = 0; i < N; i++)
            for (int a = 0; a < 3; a++) {
                double x = z[(b * N + i) * F + a] * T_STD[a] + T_MEAN[a];
                if (box > 0) x -= box * floor(x / box);
                p[i][a] = x;
            }
        for (int64_t i = 0; i < N; i++) {
            double d2[64], dr[64][3];
            int ord[64];
            int nr = 0;
            for (int64_t j = 0; j < N; j++) {
                if (mask[b * N + j] == 0) continue;
                double s = 0;
                for (int a = 0; a < 3; a++) {
                    double d = (p[i][a] - p[j][a]) + 1e-5;
                    if (box > 0) d -= round_half_even(d / box) * box;
                    dr[j][a] = d;
                    s += d * d;
                }
                d2[j] = s;
                ord[nr++] = (int)j;
            }
            /* insertion sort by (d2, j) */
            for (int x = 1; x < nr; x++)
                for (int y = x; y > 0; y--) {
                    int u = ord[y - 1], v = ord[y];
                    if (d2[v] < d2[u] || (d2[v] == d2[u] && v < u)) {
                        ord[y - 1] = v;
                        ord[y] = u;
                    }
                }
            for (int r = 0; r < k; r++) {
                int64_t e = (b * N + i) * k + r;
                int ok = mask[b * N + i] != 0 && r < nr;
                snd[e] = ok ? (int)i : -1;
                rcv[e] = ok ? ord[r] : -1;
                for (int a = 0; a < 3; a++) feat[e * 3 + a] = ok ? dr[ord[r]][a] / T_STD[a] : 0.0;
            }
        }
        free(p);
    }
}

/* The graph matches the brute force, periodic and open, with padding and
 * with a cloud that has fewer than k real points. */
HG_TEST(knn_matches_brute_force) {
    enum { B = 3, N = 12, F = 4, K = 4 };
    for (int periodic = 0; periodic < 2; periodic++) {
        double box = periodic ? T_BOX : 0.0;
        edge_net n;
        HG_CHECK_OK(edges_build(&n, HG_F64, B, N, F, K, box));
        rng r = {11 + (uint64_t)periodic};
        double z[B * N * F], mask[B * N];
        /* noisy positions partly outside the box */
        random_z(&r, z, B, N, F, -2.0, 12.0);
        for (int i = 0; i < B * N; i++) mask[i] = 1;
        mask[1 * N + 2] = mask[1 * N + 7] = mask[1 * N + 11] = 0; /* cloud 1: 9 real */
        for (int i = 0; i < N; i++) mask[2 * N + i] = (i == 1 || i == 5 || i == 9); /* 3 < k */
        int snd[B * N * K], rcv[B * N * K], esnd[B * N * K], ercv[B * N * K];
        double keep[B * N * K], feat[B * N * K * 3], efeat[B * N * K * 3];
        HG_CHECK_OK(edges_run(&n, z, mask, snd, rcv, keep, feat));
        brute_knn(z, mask, B, N, F, K, box, esnd, ercv, efeat);
        int n_drop = 0;
        for (int e = 0; e < B * N * K; e++) {
            if (ercv[e] < 0) n_drop++;
            if (rcv[e] != ercv[e] || snd[e] != esnd[e])
                HG_FAIL("periodic %d edge %d: (%d -> %d), expected (%d -> %d)", periodic, e,
                        snd[e], rcv[e], esnd[e], ercv[e]);
            HG_CHECK(keep[e] == (ercv[e] >= 0 ? 1.0 : 0.0));
            for (int a = 0; a < 3; a++) HG_CHECK_NEAR(feat[e * 3 + a], efeat[e * 3 + a], 1e-12);
        }
        /* 3 padded senders x k + cloud 2: 9 padded x k + 3 real x (k - 3) */
        HG_CHECK(n_drop == 3 * K + 9 * K + 3 * (K - 3));
        hg_graph_free(n.g);
    }
}

/* Edge lists and features do not change when positions move by +-L along
 * any axis or are wrapped into the box (periodic case). */
HG_TEST(knn_invariant_under_periodic_shift) {
    enum { B = 2, N = 12, F = 3, K = 4 };
    edge_net n;
    HG_CHECK_OK(edges_build(&n, HG_F64, B, N, F, K, T_BOX));
    rng r = {5};
    double z0[B * N * F], z1[B * N * F], z2[B * N * F], mask[B * N];
    random_z(&r, z0, B, N, F, -3.0, 13.0); /* some outside [0, L) */
    for (int i = 0; i < B * N; i++) mask[i] = 1;
    mask[N + 4] = 0;
    for (int i = 0; i < B * N; i++)
        for (int a = 0; a < 3; a++) {
            double p = z0[i * F + a] * T_STD[a] + T_MEAN[a];
            /* z1: shift by a random multiple of L in {-1, 0, 1, 2} per coordinate */
            double m = floor(4 * urand(&r)) - 1;
            z1[i * F + a] = (p + m * T_BOX - T_MEAN[a]) / T_STD[a];
            /* z2: wrapped into [0, L) */
            double w = p - T_BOX * floor(p / T_BOX);
            z2[i * F + a] = (w - T_MEAN[a]) / T_STD[a];
        }
    int s0[B * N * K], r0[B * N * K], s1[B * N * K], r1[B * N * K];
    double k0[B * N * K], k1[B * N * K], f0[B * N * K * 3], f1[B * N * K * 3];
    HG_CHECK_OK(edges_run(&n, z0, mask, s0, r0, k0, f0));
    const double *zs[2] = {z1, z2};
    for (int v = 0; v < 2; v++) {
        HG_CHECK_OK(edges_run(&n, zs[v], mask, s1, r1, k1, f1));
        int moved = 0;
        for (int e = 0; e < B * N * K; e++) {
            HG_CHECK(s1[e] == s0[e] && r1[e] == r0[e] && k1[e] == k0[e]);
            for (int a = 0; a < 3; a++) HG_CHECK_NEAR(f1[e * 3 + a], f0[e * 3 + a], 1e-9);
        }
        for (int i = 0; i < B * N * F; i++) moved += fabs(zs[v][i] - z0[i]) > 1;
        HG_CHECK(moved > 3); /* the test did move points by L */
    }
    hg_graph_free(n.g);
}

/* ---------------------------------------------------- the score network */

/* Permuting the points of each cloud permutes the scores (1e-5, f32), for
 * the paper configuration and for the variant with every option off. */
HG_TEST(score_permutation_equivariant) {
    enum { B = 2, N = 12, F = 4, DCC = 5 };
    for (int variant = 0; variant < 2; variant++) {
        hg_config c;
        tiny_config(&c, F);
        if (variant) c.attention = c.relative_updates = c.use_pbc = c.layer_norm = 0;
        gnn_net n;
        HG_CHECK_OK(net_build(&n, &c, HG_F32, B, N, F, DCC));
        hg_tensor_map st;
        hg_map_init(&st);
        HG_CHECK_OK(init_params(&n.mb, &st, 3));
        rng r = {21};
        double z[B * N * F], zp[B * N * F], mask[B * N], maskp[B * N], cc[B * DCC];
        double e0[B * N * F], e1[B * N * F];
        random_z(&r, z, B, N, F, -1.0, 11.0);
        for (int i = 0; i < B * DCC; i++) cc[i] = 2 * urand(&r) - 1;
        for (int i = 0; i < B * N; i++) mask[i] = 1;
        mask[N + 3] = mask[N + 8] = 0;
        int perm[N];
        for (int i = 0; i < N; i++) perm[i] = i;
        for (int i = N - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)(urand(&r) * (i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int b = 0; b < B; b++)
            for (int i = 0; i < N; i++) {
                maskp[b * N + i] = mask[b * N + perm[i]];
                for (int f = 0; f < F; f++) zp[(b * N + i) * F + f] = z[(b * N + perm[i]) * F + f];
            }
        HG_CHECK_OK(net_run(&n, &st, z, mask, cc, e0));
        HG_CHECK_OK(net_run(&n, &st, zp, maskp, cc, e1));
        double maxdiff = 0;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < N; i++)
                for (int f = 0; f < F; f++) {
                    if (!maskp[b * N + i]) continue;
                    double a = e1[(b * N + i) * F + f], x = e0[(b * N + perm[i]) * F + f];
                    HG_CHECK_NEAR(a, x, 1e-5);
                    if (fabs(a - x) > maxdiff) maxdiff = fabs(a - x);
                }
        /* the network does something: e_hat is not z */
        double dz = 0;
        for (int i = 0; i < B * N * F; i++) dz += fabs(e0[i] - z[i]);
        HG_CHECK(dz > 1e-2);
        hg_map_free(&st);
        net_free(&n);
    }
}

/* Padded points change nothing in the scores of real points: moving them
 * leaves the scores as they were, and a cloud with padding gives the same
 * scores as the cloud of its real points alone. */
HG_TEST(score_masking) {
    enum { B = 2, N = 12, NR = 9, F = 3, DCC = 5 };
    hg_config c;
    tiny_config(&c, F);
    gnn_net n, n1;
    HG_CHECK_OK(net_build(&n, &c, HG_F32, B, N, F, DCC));
    HG_CHECK_OK(net_build(&n1, &c, HG_F32, 1, NR, F, DCC));
    hg_tensor_map st;
    hg_map_init(&st);
    HG_CHECK_OK(init_params(&n.mb, &st, 4));
    rng r = {31};
    double z[B * N * F], z2[B * N * F], mask[B * N], cc[B * DCC];
    double e0[B * N * F], e1[B * N * F];
    random_z(&r, z, B, N, F, 0.0, 10.0);
    for (int i = 0; i < B * DCC; i++) cc[i] = 2 * urand(&r) - 1;
    for (int i = 0; i < B * N; i++) mask[i] = 1;
    const int pad[3] = {2, 7, 11};
    for (int q = 0; q < 3; q++) mask[N + pad[q]] = 0;
    memcpy(z2, z, sizeof z);
    /* padded points moved right next to real points */
    for (int q = 0; q < 3; q++)
        for (int f = 0; f < F; f++) z2[(N + pad[q]) * F + f] = z[(N + pad[q] + 1 - 2 * (q == 2)) * F + f] + 1e-3;
    HG_CHECK_OK(net_run(&n, &st, z, mask, cc, e0));
    HG_CHECK_OK(net_run(&n, &st, z2, mask, cc, e1));
    for (int i = 0; i < B * N; i++)
        if (mask[i])
            for (int f = 0; f < F; f++) HG_CHECK_NEAR(e1[i * F + f], e0[i * F + f], 1e-6);
    /* the compacted cloud 1 */
    double zc[NR * F], mc[NR], ec[NR * F];
    int m = 0;
    for (int i = 0; i < N; i++) {
        if (!mask[N + i]) continue;
        for (int f = 0; f < F; f++) zc[m * F + f] = z[(N + i) * F + f];
        mc[m++] = 1;
    }
    HG_CHECK(m == NR);
    HG_CHECK_OK(net_run(&n1, &st, zc, mc, cc + DCC, ec));
    m = 0;
    for (int i = 0; i < N; i++) {
        if (!mask[N + i]) continue;
        for (int f = 0; f < F; f++) HG_CHECK_NEAR(e0[(N + i) * F + f], ec[m * F + f], 1e-5);
        m++;
    }
    hg_map_free(&st);
    net_free(&n);
    net_free(&n1);
}

/* ------------------------------------------------------ parameter count */

/* Dense layers in -> H (x n_mlp, gelu between) -> out. */
static int64_t mlp_count(int64_t in, int64_t H, int n_mlp, int64_t out) {
    if (n_mlp == 0) return in * out + out;
    return (in * H + H) + (int64_t)(n_mlp - 1) * (H * H + H) + (H * out + out);
}

/* SPEC 4.2 closed form of the graph network's parameters (the conditioning
 * MLP of the shared prefix excluded), with g of width dcc. */
static int64_t gnn_count(const hg_config *c, int64_t F, int64_t dcc) {
    int64_t H = c->hidden_size, D = c->latent_size;
    int nm = c->num_mlp_layers;
    int64_t n = mlp_count(F, H, nm, D) + mlp_count(3, H, nm, D) + mlp_count(D, H, nm, F);
    int64_t step = mlp_count(D + (c->relative_updates ? D : 2 * D) + dcc, H, nm, D) +
                   mlp_count(2 * D + dcc, H, nm, D);
    if (c->attention) step += 3 * D + dcc + 1;
    if (c->layer_norm) step += 2 * D;
    return n + c->message_passing_steps * step;
}

static int has_param(const hg_mb *mb, const char *path) {
    for (int i = 0; i < mb->n_params; i++)
        if (!strcmp(mb->params[i].path, path)) return 1;
    return 0;
}

/* demo-graph (F 7) and paper-graph (F 3) sizes: k 20, hidden 128, latent
 * 16, 4 MLP layers, 4 steps, d_cc = 16 (t) + 16 (conditioning embedding).
 * Counts the network alone, then with the shared-prefix MLP. */
HG_TEST(param_count_closed_form) {
    const int Fs[2] = {7, 3};
    for (int v = 0; v < 2; v++) {
        hg_config c;
        hg_config_default(&c);
        c.score = HG_SCORE_GRAPH;
        c.n_features = Fs[v];
        c.k = 20;
        c.hidden_size = 128;
        c.latent_size = 16;
        c.num_mlp_layers = 4;
        c.message_passing_steps = 4;
        c.attention = c.relative_updates = c.use_pbc = c.layer_norm = 1;
        int64_t dcc = 32;
        gnn_net n;
        HG_CHECK_OK(net_build(&n, &c, HG_F32, 2, 24, Fs[v], dcc));
        int64_t expect = gnn_count(&c, Fs[v], dcc);
        /* by hand for F = 7: embeds 52,624 + 52,112, steps 4 x 119,953,
         * decoder 52,615 */
        if (Fs[v] == 7) HG_CHECK(expect == 52624 + 52112 + 4 * 119953 + 52615);
        HG_CHECK(hg_mb_param_count(&n.mb) == expect);
        HG_CHECK(has_param(&n.mb, "score/node_embed/dense_0/kernel"));
        HG_CHECK(has_param(&n.mb, "score/edge_embed/dense_4/bias"));
        HG_CHECK(has_param(&n.mb, "score/step_3/edge_mlp/dense_2/kernel"));
        HG_CHECK(has_param(&n.mb, "score/step_0/attention/kernel"));
        HG_CHECK(has_param(&n.mb, "score/step_2/node_mlp/dense_4/bias"));
        HG_CHECK(has_param(&n.mb, "score/step_1/norm/scale"));
        HG_CHECK(has_param(&n.mb, "score/decoder/dense_4/kernel"));
        net_free(&n);

        /* with the shared prefix: t-embedding 16 + conditioning 16 -> MLP [128, 128, 32] */
        hg_graph *g = hg_graph_new();
        hg_mb mb;
        HG_CHECK_OK(hg_mb_init(&mb, g, HG_F32));
        hg_score_in in;
        memset(&in, 0, sizeof in);
        in.z = hg_input(g, "z", HG_F32, hg_shape_of(3, (int64_t)2, (int64_t)24, (int64_t)Fs[v]));
        in.mask = hg_input(g, "mask", HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)24));
        in.gamma_t = hg_input(g, "gamma", HG_F32, hg_shape_of(1, (int64_t)2));
        in.cond = hg_input(g, "cond", HG_F32, hg_shape_of(2, (int64_t)2, (int64_t)16));
        for (int a = 0; a < 3; a++) in.std[a] = 1;
        in.box = 1000;
        hg_value cc = hg_score_cond(&mb, &c, &in);
        hg_value e = hg_gnn_score(&mb, &c, &in, cc);
        HG_CHECK(e != HG_NONE);
        HG_CHECK_OK(hg_graph_status(g));
        int64_t pre = (32 * 128 + 128) + (128 * 128 + 128) + (128 * 32 + 32);
        HG_CHECK(hg_mb_param_count(&mb) == expect + pre);
        hg_mb_free(&mb);
        hg_graph_free(g);
    }
}

/* The reference's published positions-only run has 637,373 parameters
 * (SPEC 4.2), reproduced by its width-1 global feature with
 * relative_updates = false: VDM gamma 2 + conditioning embedding 2x16+16 +
 * shared-prefix MLP 24,864 + the graph network. Our layer structure (per-
 * step shared LayerNorm included) fed a width-1 g must give the rest. */
HG_TEST(param_count_reference_run) {
    hg_config c;
    tiny_config(&c, 3);
    c.k = 20;
    c.hidden_size = 128;
    c.latent_size = 16;
    c.num_mlp_layers = 4;
    c.message_passing_steps = 4;
    c.relative_updates = 0;
    gnn_net n;
    HG_CHECK_OK(net_build(&n, &c, HG_F32, 1, 24, 3, 1));
    int64_t prefix = (32 * 128 + 128) + (128 * 128 + 128) + (128 * 32 + 32);
    HG_CHECK(prefix == 24864);
    HG_CHECK(hg_mb_param_count(&n.mb) == 637373 - 2 - (2 * 16 + 16) - prefix);
    net_free(&n);
}

/* ------------------------------------- the score against a direct C form */

/* Parameter values by path (f64 state). */
static const double *pv(const hg_tensor_map *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const double *pv(const hg_tensor_map *st, const char *fmt, ...) {
    char path[HG_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    hg_tensor *t = hg_map_get(st, path);
    return t && t->dtype == HG_F64 ? (const double *)t->data : NULL;
}

static double gelu_ref(double x) {
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}

/* y[rows][out] = x[rows][in] K + b, K, b at prefix/dense_l; y malloc'd. */
static double *dense_ref(const hg_tensor_map *st, const char *prefix, int l, const double *x,
                         int rows, int in, int out) {
    const double *K = pv(st, "%s/dense_%d/kernel", prefix, l);
    const double *bb = pv(st, "%s/dense_%d/bias", prefix, l);
    double *y = calloc((size_t)rows * out, sizeof *y);
    if (!K || !bb || !y) {
        free(y);
        return NULL;
    }
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < out; o++) {
            double s = bb[o];
            for (int i = 0; i < in; i++) s += x[r * in + i] * K[i * out + o];
            y[r * out + o] = s;
        }
    return y;
}

/* MLP([H] * n_mlp + [out]) of SPEC 4.2; malloc'd result or NULL. */
static double *mlp_ref(const hg_tensor_map *st, const hg_config *c, const char *prefix,
                       const double *x, int rows, int in, int out) {
    double *h = NULL;
    const double *cur = x;
    int w = in;
    for (int l = 0; l <= c->num_mlp_layers; l++) {
        int o = l == c->num_mlp_layers ? out : c->hidden_size;
        double *y = dense_ref(st, prefix, l, cur, rows, w, o);
        free(h);
        if (!y) return NULL;
        if (l < c->num_mlp_layers)
            for (int i = 0; i < rows * o; i++) y[i] = gelu_ref(y[i]);
        h = y;
        cur = y;
        w = o;
    }
    return h;
}

static void ln_ref(double *x, int rows, int d, const double *scale, const double *bias) {
    for (int r = 0; r < rows; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < d; i++) m += x[r * d + i];
        m /= d;
        for (int i = 0; i < d; i++) v += (x[r * d + i] - m) * (x[r * d + i] - m);
        v /= d;
        for (int i = 0; i < d; i++)
            x[r * d + i] = (x[r * d + i] - m) / sqrt(v + 1e-6) * scale[i] + bias[i];
    }
}

/* SPEC 4.2 for one cloud written out loop by loop, on the kept edges only
 * (from brute_knn). z [N][F], cc [dcc] -> e_hat [N][F]. 0 ok, -1 on a
 * missing parameter. */
static int gnn_ref(const hg_tensor_map *st, const hg_config *c, int N, int F, int dcc,
                   const double *z, const int *snd, const int *rcv, const double *feat,
                   const double *cc, double *e_hat) {
    int D = c->latent_size, k = c->k, E = 0;
    int *s = malloc(sizeof(int) * N * k), *r = malloc(sizeof(int) * N * k);
    double *ef = malloc(sizeof(double) * N * k * 3);
    for (int q = 0; q < N * k; q++)
        if (rcv[q] >= 0) {
            s[E] = snd[q];
            r[E] = rcv[q];
            memcpy(ef + 3 * E, feat + 3 * q, 3 * sizeof(double));
            E++;
        }
    double *n = mlp_ref(st, c, "score/node_embed", z, N, F, D);
    double *e = mlp_ref(st, c, "score/edge_embed", ef, E, 3, D);
    int ok = n && e;
    int win = 3 * D + dcc;
    double *in = malloc(sizeof(double) * (size_t)(E > N ? E : N) * win);
    for (int step = 0; ok && step < c->message_passing_steps; step++) {
        char pre[64];
        /* 1. edge update */
        int w = 0;
        for (int q = 0; q < E; q++) {
            double *row = in + (size_t)q * win;
            w = 0;
            for (int i = 0; i < D; i++) row[w++] = e[q * D + i];
            if (c->relative_updates) {
                for (int i = 0; i < D; i++) row[w++] = n[s[q] * D + i] - n[r[q] * D + i];
            } else {
                for (int i = 0; i < D; i++) row[w++] = n[s[q] * D + i];
                for (int i = 0; i < D; i++) row[w++] = n[r[q] * D + i];
            }
            for (int i = 0; i < dcc; i++) row[w++] = cc[i];
        }
        /* pack rows densely with width w */
        for (int q = 1; q < E; q++) memmove(in + (size_t)q * w, in + (size_t)q * win, w * sizeof(double));
        snprintf(pre, sizeof pre, "score/step_%d/edge_mlp", step);
        double *e2 = mlp_ref(st, c, pre, in, E, w, D);
        if (!e2) { ok = 0; break; }
        /* 2. attention */
        if (c->attention) {
            const double *K = pv(st, "score/step_%d/attention/kernel", step);
            const double *bb = pv(st, "score/step_%d/attention/bias", step);
            if (!K || !bb) { free(e2); ok = 0; break; }
            double *a = malloc(sizeof(double) * E), *mx = malloc(sizeof(double) * N),
                   *den = calloc(N, sizeof(double));
            for (int j = 0; j < N; j++) mx[j] = -INFINITY;
            for (int q = 0; q < E; q++) {
                double x[256];
                int m = 0;
                for (int i = 0; i < D; i++) x[m++] = e2[q * D + i];
                for (int i = 0; i < D; i++) x[m++] = n[s[q] * D + i];
                for (int i = 0; i < D; i++) x[m++] = n[r[q] * D + i];
                for (int i = 0; i < dcc; i++) x[m++] = cc[i];
                double t = bb[0];
                for (int i = 0; i < m; i++) t += x[i] * K[i];
                a[q] = gelu_ref(t);
                if (a[q] > mx[r[q]]) mx[r[q]] = a[q];
            }
            for (int q = 0; q < E; q++) den[r[q]] += exp(a[q] - mx[r[q]]);
            for (int q = 0; q < E; q++) {
                double al = exp(a[q] - mx[r[q]]) / den[r[q]];
                for (int i = 0; i < D; i++) e2[q * D + i] *= al;
            }
            free(a);
            free(mx);
            free(den);
        }
        /* 3. aggregate, 4. node update with skip */
        double *recv = calloc((size_t)N * D, sizeof(double));
        for (int q = 0; q < E; q++)
            for (int i = 0; i < D; i++) recv[r[q] * D + i] += e2[q * D + i];
        int wn = 2 * D + dcc;
        for (int j = 0; j < N; j++) {
            for (int i = 0; i < D; i++) in[j * wn + i] = n[j * D + i];
            for (int i = 0; i < D; i++) in[j * wn + D + i] = recv[j * D + i];
            for (int i = 0; i < dcc; i++) in[j * wn + 2 * D + i] = cc[i];
        }
        free(recv);
        snprintf(pre, sizeof pre, "score/step_%d/node_mlp", step);
        double *dn = mlp_ref(st, c, pre, in, N, wn, D);
        if (!dn) { free(e2); ok = 0; break; }
        for (int i = 0; i < N * D; i++) n[i] += dn[i];
        free(dn);
        free(e);
        e = e2;
        /* 5. one LayerNorm for both */
        if (c->layer_norm) {
            const double *sc = pv(st, "score/step_%d/norm/scale", step);
            const double *bi = pv(st, "score/step_%d/norm/bias", step);
            if (!sc || !bi) { ok = 0; break; }
            ln_ref(n, N, D, sc, bi);
            ln_ref(e, E, D, sc, bi);
        }
    }
    double *out = ok ? mlp_ref(st, c, "score/decoder", n, N, D, F) : NULL;
    if (out)
        for (int i = 0; i < N * F; i++) e_hat[i] = z[i] - out[i];
    ok = out != NULL;
    free(out);
    free(in);
    free(n);
    free(e);
    free(s);
    free(r);
    free(ef);
    return ok ? 0 : -1;
}

/* The f64 network equals SPEC 4.2 written out directly in C (edges from
 * the brute-force k-NN), for the paper options and for every option off,
 * with padding. */
HG_TEST(score_matches_direct_form) {
    enum { B = 2, N = 12, F = 4, DCC = 3 };
    for (int variant = 0; variant < 2; variant++) {
        hg_config c;
        tiny_config(&c, F);
        if (variant) c.attention = c.relative_updates = c.use_pbc = c.layer_norm = 0;
        gnn_net n;
        HG_CHECK_OK(net_build(&n, &c, HG_F64, B, N, F, DCC));
        hg_tensor_map st;
        hg_map_init(&st);
        HG_CHECK_OK(init_params(&n.mb, &st, 6));
        rng r = {51};
        double z[B * N * F], mask[B * N], cc[B * DCC], e[B * N * F], er[N * F];
        random_z(&r, z, B, N, F, -1.0, 11.0);
        for (int i = 0; i < B * DCC; i++) cc[i] = 2 * urand(&r) - 1;
        for (int i = 0; i < B * N; i++) mask[i] = 1;
        mask[N + 1] = mask[N + 6] = 0;
        HG_CHECK_OK(net_run(&n, &st, z, mask, cc, e));
        int snd[B * N * 4], rcv[B * N * 4];
        double feat[B * N * 4 * 3];
        brute_knn(z, mask, B, N, F, c.k, c.use_pbc ? T_BOX : 0.0, snd, rcv, feat);
        for (int b = 0; b < B; b++) {
            HG_CHECK(gnn_ref(&st, &c, N, F, DCC, z + b * N * F, snd + b * N * 4, rcv + b * N * 4,
                             feat + b * N * 4 * 3, cc + b * DCC, er) == 0);
            for (int i = 0; i < N; i++)
                if (mask[b * N + i])
                    for (int f = 0; f < F; f++)
                        HG_CHECK_NEAR(e[(b * N + i) * F + f], er[i * F + f], 1e-9);
        }
        hg_map_free(&st);
        net_free(&n);
    }
}

/* ---------------------------------------------------------- gradients */

/* f64 central finite differences of L = sum(e_hat * W) (W random, zero on
 * padded points) against hg_grad, for a handful of parameters and z. */
HG_TEST(gradient_finite_differences) {
    enum { B = 2, N = 12, F = 4, DCC = 3 };
    hg_config c;
    tiny_config(&c, F);
    gnn_net n, nf; /* n: with the gradient; nf: forward only */
    HG_CHECK_OK(net_build(&n, &c, HG_F64, B, N, F, DCC));
    HG_CHECK_OK(net_build(&nf, &c, HG_F64, B, N, F, DCC));
    rng r = {41};
    double z[B * N * F], mask[B * N], cc[B * DCC], W[B * N * F], e[B * N * F];
    random_z(&r, z, B, N, F, -1.0, 11.0);
    for (int i = 0; i < B * DCC; i++) cc[i] = 2 * urand(&r) - 1;
    for (int i = 0; i < B * N; i++) mask[i] = 1;
    mask[N + 5] = mask[N + 9] = 0;
    for (int i = 0; i < B * N * F; i++) W[i] = mask[i / F] ? 2 * urand(&r) - 1 : 0.0;

    /* L and its gradient w.r.t. z and the parameters */
    hg_graph *g = n.g;
    hg_value Wc = hg_constant(g, HG_F64, hg_shape_of(3, (int64_t)B, (int64_t)N, (int64_t)F), W);
    hg_value L = hg_sum_all(g, hg_mul(g, n.e_hat, Wc));
    hg_set_output(g, "L", L);
    const char *pnames[] = {
        "score/node_embed/dense_0/kernel", "score/edge_embed/dense_0/kernel",
        "score/edge_embed/dense_2/bias",   "score/step_0/edge_mlp/dense_1/kernel",
        "score/step_0/attention/kernel",   "score/step_1/attention/bias",
        "score/step_1/node_mlp/dense_0/kernel", "score/step_0/norm/scale",
        "score/step_1/norm/bias",          "score/decoder/dense_2/bias",
    };
    enum { NP = sizeof pnames / sizeof pnames[0] };
    hg_value wrt[NP + 1], grads[NP + 1];
    wrt[0] = n.z;
    for (int i = 0; i < NP; i++) {
        wrt[i + 1] = hg_find_state(g, pnames[i]);
        if (wrt[i + 1] == HG_NONE) HG_FAIL("no parameter %s", pnames[i]);
    }
    HG_CHECK_OK(hg_grad(g, L, NP + 1, wrt, grads));
    char nm[32];
    for (int i = 0; i < NP + 1; i++) {
        snprintf(nm, sizeof nm, "grad_%d", i);
        hg_set_output(g, nm, grads[i]);
    }
    HG_CHECK_OK(hg_verify(g));

    hg_tensor_map st, in, out;
    hg_map_init(&st);
    hg_map_init(&in);
    hg_map_init(&out);
    HG_CHECK_OK(init_params(&n.mb, &st, 5));
    HG_CHECK_OK(put_rng_inputs(&in));
    HG_CHECK_OK(put(&in, "z", HG_F64, hg_value_shape(g, n.z), z));
    HG_CHECK_OK(put(&in, "mask", HG_F64, hg_value_shape(g, n.mask), mask));
    HG_CHECK_OK(put(&in, "cc", HG_F64, hg_value_shape(g, n.cc), cc));
    HG_CHECK_OK(hg_ref_run(g, &st, &in, &out, NULL));

    /* loss(z, params) recomputed by the test from e_hat */
#define LOSS(res)                                                              \
    do {                                                                       \
        hg_tensor *zt_ = hg_map_get(&in, "z");                                 \
        double zz_[B * N * F];                                                 \
        for (int q_ = 0; q_ < B * N * F; q_++) zz_[q_] = hg_tensor_get(zt_, q_); \
        HG_CHECK_OK(net_run(&nf, &st, zz_, mask, cc, e));                      \
        res = 0;                                                               \
        for (int q_ = 0; q_ < B * N * F; q_++) res += e[q_] * W[q_];           \
    } while (0)

    /* each tensor: the derivative along a random direction v (all elements
     * at once); z also element by element at a few points */
    const double h = 1e-6;
    int checked = 0;
    for (int w = 0; w < NP + 1; w++) {
        snprintf(nm, sizeof nm, "grad_%d", w);
        hg_tensor *gt = hg_map_get(&out, nm);
        HG_CHECK(gt != NULL);
        hg_tensor *x = w == 0 ? hg_map_get(&in, "z") : hg_map_get(&st, pnames[w - 1]);
        HG_CHECK(x != NULL);
        int64_t nx = hg_shape_numel(x->shape);
        double *x0 = malloc(sizeof(double) * nx), *v = malloc(sizeof(double) * nx);
        HG_CHECK(x0 && v);
        double an = 0, lp, lm;
        for (int64_t j = 0; j < nx; j++) {
            x0[j] = hg_tensor_get(x, j);
            v[j] = 2 * urand(&r) - 1;
            an += v[j] * hg_tensor_get(gt, j);
        }
        for (int64_t j = 0; j < nx; j++) hg_tensor_set(x, j, x0[j] + h * v[j]);
        LOSS(lp);
        for (int64_t j = 0; j < nx; j++) hg_tensor_set(x, j, x0[j] - h * v[j]);
        LOSS(lm);
        for (int64_t j = 0; j < nx; j++) hg_tensor_set(x, j, x0[j]);
        free(x0);
        free(v);
        double fd = (lp - lm) / (2 * h);
        if (!(fabs(fd - an) <= 1e-6 + 1e-5 * fabs(fd)))
            HG_FAIL("d L / d %s along v: autodiff %.12g, finite difference %.12g",
                    w ? pnames[w - 1] : "z", an, fd);
        checked++;
    }
    const int64_t zp[3] = {0, (N + 2) * F + 3, (2 * N - 1) * F + 2};
    hg_tensor *zt = hg_map_get(&in, "z"), *gz = hg_map_get(&out, "grad_0");
    for (int q = 0; q < 3; q++) {
        int64_t j = zp[q];
        double x0 = hg_tensor_get(zt, j), lp, lm;
        hg_tensor_set(zt, j, x0 + h);
        LOSS(lp);
        hg_tensor_set(zt, j, x0 - h);
        LOSS(lm);
        hg_tensor_set(zt, j, x0);
        double fd = (lp - lm) / (2 * h), an = hg_tensor_get(gz, j);
        if (!(fabs(fd - an) <= 1e-6 + 1e-5 * fabs(fd)))
            HG_FAIL("d L / d z[%lld]: autodiff %.12g, finite difference %.12g", (long long)j,
                    an, fd);
        checked++;
    }
    /* padded points do not reach L at all */
    for (int64_t j = 0; j < B * N * F; j++)
        if (!mask[j / F]) HG_CHECK(hg_tensor_get(gz, j) == 0.0);
#undef LOSS
    HG_CHECK(checked == NP + 1 + 3);
    hg_map_free(&st);
    hg_map_free(&in);
    hg_map_free(&out);
    net_free(&n);
    net_free(&nf);
}

/* ------------------------------------------------------- integration */

/* The `train` graph of a tiny graph-network config builds, runs one AdamW
 * step with finite loss, and moves parameters of every part of the graph
 * network (so gradients reach them through the whole VDM loss). */
HG_TEST(train_step_with_graph_network) {
    enum { B = 2, N = 12, F = 3 };
    hg_config c;
    tiny_config(&c, F);
    c.n_particles = N;
    c.batch_size = B;
    c.warmup_steps = 0;
    c.n_train_steps = 10;
    c.weight_decay = 0; /* a parameter moves only if its gradient is nonzero */
    hg_model_opts o;
    hg_model_opts_default(&o, &c);
    o.norm.box = T_BOX;
    for (int a = 0; a < 3; a++) {
        o.norm.mean[a] = T_MEAN[a];
        o.norm.std[a] = T_STD[a];
    }
    hg_model m;
    HG_CHECK_OK(hg_model_build(&c, "train", B, HG_F32, &o, &m));
    hg_tensor_map st, in, out;
    hg_map_init(&st);
    hg_map_init(&in);
    hg_map_init(&out);
    HG_CHECK_OK(hg_mb_init_params(&m.mb, 3, &st));
    HG_CHECK_OK(hg_optim_init_state(m.g, &st));
    rng r = {61};
    double x[B * N * F], mask[B * N], cond[B * 2];
    random_z(&r, x, B, N, F, 0.0, 10.0);
    for (int i = 0; i < B * N; i++) mask[i] = i != N + 3;
    for (int i = 0; i < B * 2; i++) cond[i] = 0.3 + 0.5 * urand(&r);
    HG_CHECK_OK(put_rng_inputs(&in));
    HG_CHECK_OK(put(&in, "x", HG_F32, hg_shape_of(3, (int64_t)B, (int64_t)N, (int64_t)F), x));
    HG_CHECK_OK(put(&in, "mask", HG_F32, hg_shape_of(2, (int64_t)B, (int64_t)N), mask));
    HG_CHECK_OK(put(&in, "cond", HG_F32, hg_shape_of(2, (int64_t)B, (int64_t)2), cond));
    const char *watch[] = {"score/node_embed/dense_0/kernel", "score/edge_embed/dense_0/kernel",
                           "score/step_0/edge_mlp/dense_0/kernel", "score/step_1/attention/kernel",
                           "score/step_1/node_mlp/dense_2/kernel", "score/step_0/norm/scale",
                           "score/decoder/dense_2/kernel"};
    enum { NW = sizeof watch / sizeof watch[0] };
    double before[NW];
    for (int i = 0; i < NW; i++) {
        hg_tensor *t = hg_map_get(&st, watch[i]);
        if (!t) HG_FAIL("no parameter %s", watch[i]);
        before[i] = hg_tensor_get(t, 0);
    }
    HG_CHECK_OK(hg_ref_run(m.g, &st, &in, &out, NULL));
    hg_tensor *loss = hg_map_get(&out, "loss");
    HG_CHECK(loss != NULL);
    HG_CHECK(isfinite(hg_tensor_get(loss, 0)));
    for (int i = 0; i < NW; i++) {
        double after = hg_tensor_get(hg_map_get(&st, watch[i]), 0);
        if (!(isfinite(after) && after != before[i]))
            HG_FAIL("%s[0]: %.9g -> %.9g after one step", watch[i], before[i], after);
    }
    hg_map_free(&st);
    hg_map_free(&in);
    hg_map_free(&out);
    hg_model_free(&m);
}
