/* `halograph dump-ir`: the IR of one graph kind of a config at one stage
 * of the compiler (issue 11): as built, simplified, fused into kernels
 * (passes/fuse.c; attention as the backends' MULTI kernels,
 * passes/attention_group.c) and scheduled with the memory plan of the kernel outputs
 * (hg_memplan_schedule); or, with --stats, the counts and arena figures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "passes/passes.h"
#include "tools/cli.h"

static const char *USAGE =
    "usage: halograph dump-ir --config C --graph train|score|sample-step|nelbo\n"
    "                         --stage built|simplified|fused|scheduled [--stats] [--batch B]\n"
    "                         [--decompose-attention]\n\n"
    "Prints the IR of one graph kind of config C (built for batch B, default\n"
    "training.batch_size) at one stage of the compiler:\n"
    "  built       the graph as the model builder makes it (text format of ir/ir.h)\n"
    "  simplified  after hg_simplify (splat folding, x*1 / x+0 removal, CSE, DCE)\n"
    "  fused       the simplified graph, its large activations recomputed before\n"
    "              far users (hg_remat, as the planning backends do), then its\n"
    "              kernels (fusion groups of passes/fuse.c, attention nodes grouped\n"
    "              into multi kernels as the jit backend runs them:\n"
    "              passes/attention_group.c), one line each:\n"
    "                kernel K KIND DTYPE SPACE name=\"...\" members ... inputs ... outputs ...\n"
    "  scheduled   as fused, then the memory plan of the kernel outputs, one line\n"
    "              per value with arena space:\n"
    "                mem %%V kernel K offset O bytes N own|inplace|alias live A..B\n"
    "              and `arena N bytes`\n"
    "  --stats     instead of the text: node count, kernel count by kind, fusion\n"
    "              groups (kernels of several members) by kind, arena bytes, the\n"
    "              lower bound (most bytes simultaneously live), the unplanned sum\n"
    "              (every kernel output in its own buffer) and their ratios. At the\n"
    "              built and simplified stages the kernels are one per node.\n"
    "  --batch B   batch size (default: training.batch_size of C)\n"
    "  --decompose-attention  first replace the attention ops (attention,\n"
    "              attention_lse, attention_grad) by their decomposition into\n"
    "              matmul, softmax and elementwise ops (hg_decompose_some): the\n"
    "              form that materialises the N x N logits, to compare its arena\n";

static const char *const GRAPHS[] = {"train", "score", "sample-step", "nelbo"};
static const char *const STAGES[] = {"built", "simplified", "fused", "scheduled"};

typedef struct {
    const char *cfg_path, *graph, *stage_name;
    int stage; /* index in STAGES */
    long batch;
    int stats, decompose_attention;
} opts;

/* hg_decompose_some's keep: every composite op but the attention family. */
static int keep_but_attention(hg_op op) {
    return op != HG_OP_attention && op != HG_OP_attention_lse && op != HG_OP_attention_grad;
}

static int usage_error(const char *fmt, const char *arg) {
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    return hg_cli_fail("dump-ir", HG_EXIT_USAGE, "%s (see halograph dump-ir --help)", msg);
}

static int index_of(const char *s, const char *const *list, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, list[i])) return i;
    return -1;
}

static hg_status write_check(FILE *f) {
    return ferror(f) ? hg_error(HG_ERR_IO, "dump-ir: write error on standard output") : hg_ok();
}

static const char *mp_kind_name(unsigned char k) {
    switch (k) {
    case HG_MP_OWN: return "own";
    case HG_MP_INPLACE: return "inplace";
    case HG_MP_ALIAS: return "alias";
    default: return "?";
    }
}

static hg_status print_memory(const hg_graph *g, const hg_schedule *s, const hg_mem_plan *p,
                              FILE *f) {
    for (int k = 0; k < s->n_kernels; k++) {
        const hg_kernel *K = &s->kernels[k];
        for (int j = 0; j < K->n_outputs; j++) {
            hg_value v = K->outputs[j];
            if (p->block[v] < 0) continue;
            int b = p->block[v];
            fprintf(f, "mem %%%d kernel %d offset %lld bytes %lld %s live %d..%d\n", v, k,
                    (long long)p->offset[v], (long long)p->bytes[v], mp_kind_name(p->kind[v]),
                    p->block_start[b], p->block_end[b]);
        }
    }
    fprintf(f, "arena %lld bytes\n", (long long)p->arena_bytes);
    (void)g;
    return write_check(f);
}

static hg_status print_stats(const opts *o, const hg_graph *g, const hg_schedule *s,
                             const hg_mem_plan *p, FILE *f) {
    int n_leaf = 0, by_kind[HG_NUM_KERNEL_KINDS] = {0}, groups[HG_NUM_KERNEL_KINDS] = {0};
    int n_groups = 0, n_fused_members = 0;
    for (int v = 0; v < g->n_nodes; v++) n_leaf += (hg_op_table[g->nodes[v].op].flags & HG_OPF_LEAF) != 0;
    for (int k = 0; k < s->n_kernels; k++) {
        const hg_kernel *K = &s->kernels[k];
        by_kind[K->kind]++;
        if (K->n_members > 1) {
            groups[K->kind]++;
            n_groups++;
            n_fused_members += K->n_members;
        }
    }
    fprintf(f, "graph: %s, stage %s, batch %ld%s\n", o->graph, o->stage_name, o->batch,
            o->decompose_attention ? ", attention decomposed" : "");
    fprintf(f, "nodes: %d (%d leaves)\n", g->n_nodes, n_leaf);
    fprintf(f, "kernels: %d (", s->n_kernels);
    for (int k = 0; k < HG_NUM_KERNEL_KINDS; k++)
        fprintf(f, "%s%s %d", k ? ", " : "", hg_kernel_kind_name((hg_kernel_kind)k), by_kind[k]);
    fprintf(f, ")\nfusion groups: %d with %d members (", n_groups, n_fused_members);
    for (int k = 0; k < HG_NUM_KERNEL_KINDS; k++)
        fprintf(f, "%s%s %d", k ? ", " : "", hg_kernel_kind_name((hg_kernel_kind)k), groups[k]);
    fprintf(f, ")\n");
    fprintf(f, "nodes_per_kernel: %.3f\n", s->n_kernels ? (double)g->n_nodes / s->n_kernels : 0.0);
    fprintf(f, "arena_bytes: %lld\n", (long long)p->arena_bytes);
    fprintf(f, "lower_bound_bytes: %lld (most bytes simultaneously live)\n",
            (long long)p->live_bytes_max);
    fprintf(f, "unplanned_bytes: %lld (every kernel output in its own buffer)\n",
            (long long)p->sum_bytes);
    fprintf(f, "arena_over_lower_bound: %.4f\n",
            p->live_bytes_max ? (double)p->arena_bytes / (double)p->live_bytes_max : 1.0);
    fprintf(f, "in_place: %d, aliases: %d, blocks: %d\n", p->n_inplace, p->n_alias, p->n_blocks);
    return write_check(f);
}

/* Builds, transforms and prints; frees everything on every path. */
static hg_status dump(const opts *o, const hg_config *c) {
    hg_model_opts mo;
    hg_model_opts_default(&mo, c);
    hg_model m;
    HG_TRY(hg_model_build(c, o->graph, (int)o->batch, HG_F32, &mo, &m));
    hg_graph *simp = NULL, *dec = NULL, *rem = NULL;
    hg_schedule s;
    memset(&s, 0, sizeof s);
    hg_mem_plan p;
    memset(&p, 0, sizeof p);
    hg_status st = hg_ok();
    const hg_graph *g = m.g;
    if (o->decompose_attention) {
        st = hg_decompose_some(m.g, keep_but_attention, &dec, NULL);
        g = dec;
    }
    if (st.code == HG_OK && o->stage >= 1) {
        st = hg_simplify(g, &simp, NULL);
        g = simp;
    }
    if (st.code == HG_OK && o->stage >= 2) {
        st = hg_remat(g, HG_REMAT_MIN_DISTANCE, HG_REMAT_MIN_NUMEL, &rem, NULL);
        g = rem;
    }
    if (st.code == HG_OK)
        st = o->stage >= 2 ? hg_fuse(g, NULL, &s) : hg_schedule_nodes(g, &s);
    /* the fast and jit backends run attention as MULTI kernels: show them
     * grouped as jit groups them (passes/attention_group.c) */
    if (st.code == HG_OK && o->stage >= 2) st = hg_attention_group(g, 0, &s);
    if (st.code == HG_OK) st = hg_schedule_check(g, &s);
    if (st.code == HG_OK && (o->stats || o->stage == 3)) st = hg_memplan_schedule(g, &s, &p);
    if (st.code == HG_OK && o->stats) st = print_stats(o, g, &s, &p, stdout);
    else if (st.code == HG_OK) {
        st = hg_print(g, stdout);
        if (st.code == HG_OK && o->stage >= 2) st = hg_schedule_print(g, &s, stdout);
        if (st.code == HG_OK && o->stage == 3) st = print_memory(g, &s, &p, stdout);
    }
    /* one message naming standard output and why (hg_print's and
     * write_check's say only "write error"); fflush retries and sets errno */
    errno = 0;
    if ((fflush(stdout) != 0 || ferror(stdout)) && (st.code == HG_OK || st.code == HG_ERR_IO))
        st = hg_error(HG_ERR_IO, "write error on standard output: %s", strerror(errno ? errno : EIO));
    hg_memplan_free(&p);
    hg_schedule_free(&s);
    hg_graph_free(simp);
    hg_graph_free(dec);
    hg_graph_free(rem);
    hg_model_free(&m);
    return st;
}

static int cmd_dump_ir(int argc, char **argv) {
    const char *cmd = "dump-ir";
    if (hg_cli_wants_help(argc, argv)) {
        fputs(USAGE, stdout);
        return HG_EXIT_OK;
    }
    opts o = {NULL, NULL, NULL, -1, 0, 0, 0};
    static const char *const VALUED[] = {"--config", "--graph", "--stage", "--batch"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!has && index_of(a, VALUED, 4) >= 0) return usage_error("%s needs a value", a);
        if (!strcmp(a, "--stats")) o.stats = 1;
        else if (!strcmp(a, "--decompose-attention")) o.decompose_attention = 1;
        else if (!strcmp(a, "--config") && has) o.cfg_path = argv[++i];
        else if (!strcmp(a, "--graph") && has) o.graph = argv[++i];
        else if (!strcmp(a, "--stage") && has) o.stage_name = argv[++i];
        else if (!strcmp(a, "--batch") && has) {
            if (hg_cli_parse_int(argv[++i], 1, 100000, &o.batch))
                return hg_cli_fail(cmd, HG_EXIT_USAGE, "--batch: '%s' is not an integer in [1, 100000]",
                                   argv[i]);
        } else return usage_error("unexpected argument '%s'", a);
    }
    if (!o.cfg_path || !o.graph || !o.stage_name)
        return usage_error("%s", "--config, --graph and --stage are required");
    if (index_of(o.graph, GRAPHS, 4) < 0)
        return hg_cli_fail(cmd, HG_EXIT_USAGE,
                           "--graph: unknown graph kind '%s' (train, score, sample-step or nelbo)", o.graph);
    o.stage = index_of(o.stage_name, STAGES, 4);
    if (o.stage < 0)
        return hg_cli_fail(cmd, HG_EXIT_USAGE,
                           "--stage: unknown stage '%s' (built, simplified, fused or scheduled)",
                           o.stage_name);
    hg_config c;
    hg_status s = hg_config_load(o.cfg_path, &c);
    if (s.code == HG_OK && !o.batch) o.batch = c.batch_size;
    if (s.code == HG_OK) s = dump(&o, &c);
    return s.code == HG_OK ? HG_EXIT_OK : hg_cli_status(cmd, s);
}

HG_COMMAND(dump_ir, "dump-ir", "the IR of a graph kind at a compiler stage, its kernels, memory plan and stats",
           cmd_dump_ir)
