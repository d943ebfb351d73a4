/* Config compatibility of a checkpoint: both YAML texts are flattened to
 * "section.key" = value (sequences as "[a, b]"), and the keys that fix the
 * model's parameters (data.n_features, data.conditioning, vdm.*, score.*)
 * must agree. Numbers compare by value (3.0e-4 == 0.0003). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "runtime/runtime.h"

typedef struct {
    char key[128];
    char val[256];
} kv;

typedef struct {
    kv *e;
    int n, cap;
} kv_list;

static int kv_add(kv_list *l, const char *k, const char *v) {
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 64;
        kv *ne = realloc(l->e, sizeof *ne * nc);
        if (!ne) return -1;
        l->e = ne;
        l->cap = nc;
    }
    snprintf(l->e[l->n].key, sizeof l->e[l->n].key, "%s", k);
    snprintf(l->e[l->n].val, sizeof l->e[l->n].val, "%s", v);
    l->n++;
    return 0;
}

/* Renders a node as text (scalars as is, sequences "[a, b]", mappings "{...}"). */
static void render(yaml_document_t *doc, yaml_node_t *n, char *buf, size_t sz) {
    if (!n) {
        snprintf(buf, sz, "null");
        return;
    }
    if (n->type == YAML_SCALAR_NODE) {
        snprintf(buf, sz, "%.*s", (int)n->data.scalar.length, (const char *)n->data.scalar.value);
    } else if (n->type == YAML_SEQUENCE_NODE) {
        size_t L = (size_t)snprintf(buf, sz, "[");
        int first = 1;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            char item[256];
            render(doc, yaml_document_get_node(doc, *it), item, sizeof item);
            if (L < sz) L += (size_t)snprintf(buf + L, sz - L, "%s%s", first ? "" : ", ", item);
            first = 0;
        }
        if (L < sz) snprintf(buf + L, sz - L, "]");
    } else {
        snprintf(buf, sz, "{...}");
    }
}

/* dst = a + sep + b, truncated to n - 1 bytes. */
static void join(char *dst, size_t n, const char *a, const char *sep, const char *b) {
    size_t L = 0;
    const char *parts[3] = {a, sep, b};
    for (int i = 0; i < 3; i++)
        for (const char *p = parts[i]; *p && L + 1 < n; p++) dst[L++] = *p;
    dst[L] = 0;
}

static int flatten(yaml_document_t *doc, yaml_node_t *n, const char *prefix, kv_list *out) {
    if (n && n->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            char k[128], full[128];
            render(doc, yaml_document_get_node(doc, p->key), k, sizeof k);
            join(full, sizeof full, prefix, *prefix ? "." : "", k);
            if (flatten(doc, yaml_document_get_node(doc, p->value), full, out)) return -1;
        }
        return 0;
    }
    char v[256];
    render(doc, n, v, sizeof v);
    return kv_add(out, prefix, v);
}

static hg_status parse(const char *text, const char *what, kv_list *out) {
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p)) return hg_error(HG_ERR_NOMEM, "config: out of memory");
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    hg_status s = hg_ok();
    if (!yaml_parser_load(&p, &doc)) {
        s = hg_error(HG_ERR_FORMAT, "%s config: YAML error at line %lu: %s", what,
                     (unsigned long)p.problem_mark.line + 1, p.problem ? p.problem : "?");
        yaml_parser_delete(&p);
        return s;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root && flatten(&doc, root, "", out)) s = hg_error(HG_ERR_NOMEM, "config: out of memory");
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return s;
}

static int relevant(const char *k) {
    return !strcmp(k, "data.n_features") || !strcmp(k, "data.conditioning") || !strncmp(k, "vdm.", 4) ||
           !strncmp(k, "score.", 6);
}

static const char *lookup(const kv_list *l, const char *k) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->e[i].key, k)) return l->e[i].val;
    return NULL;
}

static int same_value(const char *a, const char *b) {
    if (!strcmp(a, b)) return 1;
    char *ea, *eb;
    errno = 0;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    return ea != a && eb != b && !*ea && !*eb && !errno && x == y;
}

hg_status hg_config_compatible(const char *stored_yaml, const char *expected_yaml) {
    kv_list a = {0}, b = {0};
    hg_status s = parse(stored_yaml ? stored_yaml : "", "checkpoint", &a);
    if (s.code == HG_OK) s = parse(expected_yaml ? expected_yaml : "", "expected", &b);
    if (s.code == HG_OK) {
        char msg[420] = "";
        int nd = 0, dropped = 0;
        for (int pass = 0; pass < 2; pass++) {
            const kv_list *x = pass ? &b : &a, *y = pass ? &a : &b;
            for (int i = 0; i < x->n; i++) {
                if (!relevant(x->e[i].key)) continue;
                const char *v = lookup(y, x->e[i].key);
                if (pass && v) continue; /* compared in pass 0 */
                if (v && same_value(x->e[i].val, v)) continue;
                char item[300], tail[300];
                if (!v) {
                    join(tail, sizeof tail, pass ? ": config " : ": checkpoint ", x->e[i].val,
                         pass ? ", absent in the checkpoint" : ", absent in the config");
                } else {
                    char t2[300];
                    join(t2, sizeof t2, ": checkpoint ", x->e[i].val, " vs config ");
                    join(tail, sizeof tail, t2, v, "");
                }
                join(item, sizeof item, x->e[i].key, "", tail);
                size_t L = strlen(msg);
                if (L + strlen(item) + 3 < sizeof msg) snprintf(msg + L, sizeof msg - L, "%s%s", nd ? "; " : "", item);
                else dropped++;
                nd++;
            }
        }
        if (nd) {
            if (dropped) {
                size_t L = strlen(msg);
                snprintf(msg + L, sizeof msg - L, "; ... and %d more", dropped);
            }
            s = hg_error(HG_ERR_INVALID, "config incompatible with the checkpoint: %s", msg);
        }
    }
    free(a.e);
    free(b.e);
    return s;
}
