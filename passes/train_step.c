/* The training-step graph (DESIGN.md "Training step = one graph", SPEC 5):
 * model + backward + clipping + optimizer update, then simplified. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

hg_status hg_train_step_graph(const hg_graph *model, hg_value loss, int n_params,
                              const hg_value *params, const hg_optim_config *cfg,
                              hg_graph **out) {
    *out = NULL;
    if (!model) return hg_error(HG_ERR_INVALID, "train step: model graph is NULL");
    HG_TRY(hg_status_prefix(hg_graph_status(model), "train step: model graph has an error"));
    HG_TRY(hg_status_prefix(hg_optim_config_check(cfg), "train step"));
    const hg_node *ln = hg_node_at(model, loss);
    if (!ln || !hg_dtype_is_float(ln->dtype) || ln->shape.rank != 0)
        return hg_error(HG_ERR_INVALID, "train step: loss %%%d must be a float rank-0 value",
                        (int)loss);
    if (n_params < 1 || !params)
        return hg_error(HG_ERR_INVALID, "train step: no parameters (n_params %d)", n_params);
    for (int i = 0; i < n_params; i++) {
        const hg_node *p = hg_node_at(model, params[i]);
        if (!p || p->op != HG_OP_state || !hg_dtype_is_float(p->dtype))
            return hg_error(HG_ERR_INVALID,
                            "train step: parameter %d (%%%d) is not a float state node", i,
                            (int)params[i]);
        for (int j = 0; j < i; j++)
            if (params[j] == params[i])
                return hg_error(HG_ERR_INVALID, "train step: parameter \"%s\" listed twice",
                                p->attrs.name);
    }
    hg_graph *g = hg_graph_clone(model);
    hg_value *grads = malloc((size_t)n_params * 2 * sizeof *grads);
    if (!g || !grads) {
        hg_graph_free(g);
        free(grads);
        return hg_error(HG_ERR_NOMEM, "train step: out of memory");
    }
    hg_value *clipped = grads + n_params;
    hg_status st = hg_grad(g, loss, n_params, params, grads);
    if (st.code == HG_OK) st = hg_clip_gradients(g, cfg, n_params, grads, clipped);
    if (st.code == HG_OK) st = hg_optim_apply(g, cfg, n_params, params, clipped);
    if (st.code == HG_OK && hg_set_output(g, "loss", loss)) st = hg_graph_status(g);
    if (st.code == HG_OK) st = hg_simplify(g, out, NULL);
    free(grads);
    hg_graph_free(g);
    return st.code == HG_OK ? st : hg_status_prefix(st, "train step");
}

hg_status hg_optim_init_state(const hg_graph *g, hg_tensor_map *state) {
    for (int i = 0; i < g->n_nodes; i++) {
        const hg_node *nd = &g->nodes[i];
        if (nd->op != HG_OP_state || strncmp(nd->attrs.name, "opt/", 4) != 0) continue;
        if (hg_map_get(state, nd->attrs.name)) continue;
        hg_tensor *t;
        HG_TRY(hg_status_prefix(hg_map_alloc(state, nd->attrs.name, nd->dtype, nd->shape, &t),
                                "optimizer state \"%s\"", nd->attrs.name));
    }
    return hg_ok();
}
