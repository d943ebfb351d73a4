/* Pieces of the VDM loss (SPEC 3.2) shared by the loss and NELBO graphs
 * (models/vdm.c, models/graphs.c). Shapes: B' clouds, N points, D latent
 * features, F data features. */
#ifndef HG_VDM_INTERNAL_H
#define HG_VDM_INTERNAL_H

#include "models/models.h"

/* Masked sum over points and features: L [B', N, D], m [B', N] -> [B']. */
hg_value hg_vdm_masked_sum(hg_graph *g, hg_value L, hg_value m);
/* L_recon elementwise [B', N, F] for data x, features f, noise e0 [B', N, D]. */
hg_value hg_vdm_recon_elem(hg_mb *mb, const hg_config *c, hg_value x, hg_value f, hg_value cemb,
                           hg_value e0);
/* L_klz elementwise [B', N, D]. */
hg_value hg_vdm_klz_elem(hg_mb *mb, const hg_config *c, hg_value f);
/* L_diff elementwise [B', N, D] at times t [B'] with noise e [B', N, D]
 * (continuous or discrete time per c->timesteps). */
hg_value hg_vdm_diff_elem(hg_mb *mb, const hg_config *c, const hg_norm *norm, hg_value f,
                          hg_value t, hg_value e, hg_value cemb, hg_value mask);
/* Discrete time: t <- ceil(t T) / T; identity in continuous time. */
hg_value hg_vdm_discretise(hg_graph *g, const hg_config *c, hg_value t);
/* hg_score_in from z, gamma, cond, mask and the normalisation. */
void hg_vdm_score_in(hg_score_in *in, hg_value z, hg_value gamma_t, hg_value cemb,
                     hg_value mask, const hg_norm *norm);

#endif
