/* The k-NN graph of the graph score network (SPEC 4.2), built on its own so
 * that tests can check the edge list and the edge features without the
 * message-passing network around them. hg_gnn_score (models.h) uses it.
 */
#ifndef HG_GNN_H
#define HG_GNN_H

#include "ir/ir.h"

/* The edges of the k-NN graph of a batch of clouds, flattened per cloud:
 * E = N k edges, edge e = i k + r is the edge from point i (sender) to its
 * r-th nearest neighbour j (receiver), r = 0 being the nearest (itself).
 * Values are graph values of the graph they were built in. */
typedef struct {
    hg_value senders;   /* i32 [B, E]: i, or -1 for a dropped edge */
    hg_value receivers; /* i32 [B, E]: j, or -1 for a dropped edge */
    hg_value keep;      /* bool [B, E, 1]: 1 = edge kept */
    hg_value keep_f;    /* z's dtype [B, E, 1]: keep as 0/1 */
    hg_value features;  /* z's dtype [B, E, 3]: dr_ij / std[0:3]; 0 on dropped edges */
    int64_t n_edges;    /* E = N k */
} hg_gnn_edges;

/* Builds the k-NN graph of SPEC 4.2 into g.
 * z:    float [B, N, F] (F >= 3) normalised features; the positions are
 *       p = z[..., 0:3] std + mean (Mpc/h), wrapped into [0, box) with
 *       floor_mod when box > 0.
 * mask: [B, N], z's dtype, 1 = real point.
 * k:    neighbours per point (1 <= k <= N), self included.
 * box:  periodic box side L (Mpc/h); 0 = no periodic boundary conditions.
 * The neighbour indices come from the `knn` op (not differentiated). The
 * edge features dr_ij = (p_i - p_j) + 1e-5, periodic dr -= round(dr / L) L
 * (round half to even), divided by std[0:3], are differentiable functions
 * of z (gradient through the gathers). Edges whose sender or receiver is a
 * padded point, and the missing neighbours of a cloud with fewer than k
 * real points, are dropped: index -1, keep 0, features 0 (SPEC 4.2
 * deliberate deviation).
 * Errors: HG_ERR_INVALID (bad shapes, k, std <= 0, box < 0), also recorded
 * as g's sticky error; a sticky error already in g is returned as is. */
hg_status hg_gnn_edges_build(hg_graph *g, hg_value z, hg_value mask, int k,
                             const double mean[3], const double std[3], double box,
                             hg_gnn_edges *out);

#endif
