/* halograph ONNX export: part of the codegen module (codegen/, DESIGN.md
 * "codegen/onnx"); a sub-header of codegen/codegen.h's module, kept apart
 * so the interpreter header stays small.
 *
 * hg_onnx_export writes a halograph graph as an ONNX model (ir_version 8,
 * opset 17 of the default domain, protobuf-c bindings generated from
 * libonnx-dev's onnx.proto). The exported model computes the same values
 * as the reference interpreter (hg_ref_run) on the same inputs and weights:
 *
 *  - `input` nodes become graph inputs with the same names; `state` nodes
 *    (parameters) become initializers named by their parameter paths
 *    ("score/layer_0/mha/query/kernel"), holding the tensors of `state`;
 *    `constant` and `iota` nodes become initializers ("const/<id>",
 *    "iota/<id>"). Graph outputs keep their names; a state update (if
 *    any) becomes an extra output "update/<path>".
 *  - Every graph input and output has a doc string with its dtype, shape
 *    (and the meaning of each axis), and units for the names the model
 *    graphs use (z, gamma, cond, mask, t, s, x, seed, step, replica,
 *    e_hat, z_next, nelbo, ...); the model doc string lists them again.
 *  - Random ops (random_normal, random_uniform) become extra graph inputs
 *    named "noise_<stream>" (the builder's stream id), so the exported
 *    graph is deterministic: feed them the draws halograph would make
 *    (hg_onnx_add_noise_outputs gives them from the interpreter).
 *  - Every op of the op table (ir/ir.h) is lowered to standard ONNX ops
 *    (codegen/onnx_lower*.c document each lowering and its exactness):
 *    composites (layer_norm -> LayerNormalization with scale 1 and bias 0,
 *    softmax -> Softmax(axis=-1), attention -> MatMul, Mul, Where, Softmax,
 *    MatMul), gelu_tanh as its tanh formula, float floor_mod from Mod
 *    (fmod=1) plus a sign fix (exact), round -> Round (half to even),
 *    gather/scatter_add through flattened Gather/ScatterElements(add) with
 *    a dummy row for dropped indices, scatter_max exactly within opset 17
 *    (segment sort by TopK + a segmented prefix max, no per-cloud shift),
 *    knn as brute-force pairwise distances + TopK with ties broken exactly
 *    as halograph's (lower index first; f32 positions only).
 * An op (or dtype) the exporter cannot express exactly is refused with
 * HG_ERR_UNSUPPORTED naming the node and op ("node %12 (knn): ...").
 */
#ifndef HG_ONNX_H
#define HG_ONNX_H

#include "ir/ir.h"

#define HG_ONNX_OPSET 17
#define HG_ONNX_IR_VERSION 8

typedef struct {
    const char *graph_name;  /* ONNX graph name; NULL: "halograph" */
    const char *model_doc;   /* first paragraph of the model doc string; may be NULL */
    /* Extra descriptions of graph inputs/outputs by name (appended to the
     * built-in text of that name); n_docs entries, may be 0. */
    int n_docs;
    const char *const *doc_names;
    const char *const *doc_texts;
} hg_onnx_options;

/* graph_name NULL, model_doc NULL, no extra docs. */
void hg_onnx_options_default(hg_onnx_options *o);

/* Exports verified graph g to the ONNX file `path` (written atomically:
 * "<path>.tmp.<pid>" then renamed over path).
 * state: one tensor per `state` node of g, by name, with the node's dtype
 *        and shape (the values become initializers; not modified).
 * opt:   may be NULL (defaults).
 * Errors: HG_ERR_INVALID (g fails hg_verify, a state tensor missing or of
 * the wrong dtype/shape, colliding names), HG_ERR_NUMERIC (a state tensor
 * holds NaN or Inf: "state \"NAME\": element I is nan"), HG_ERR_UNSUPPORTED ("node %N
 * (op): why" for anything not expressible), HG_ERR_IO (path not writable),
 * HG_ERR_NOMEM. Nothing is left at path on error. */
hg_status hg_onnx_export(const hg_graph *g, const hg_tensor_map *state,
                         const hg_onnx_options *opt, const char *path);

/* The ONNX input name of random stream `stream`: "noise_<stream>". */
void hg_onnx_noise_name(int stream, char *buf, size_t n);

/* Adds to g one output per random op, named hg_onnx_noise_name(stream),
 * so one hg_ref_run gives both the graph's outputs and the draws the
 * exported model takes as its noise inputs. Returns the number of outputs
 * added (>= 0), or -1 with g's sticky error set. */
int hg_onnx_add_noise_outputs(hg_graph *g);

#endif
