/* Numeric tables from text: comma-separated with a header line (pandas
 * to_csv, with or without its index column) and whitespace-separated with
 * a '#' header (Quijote's latin-hypercube parameter table). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

void hg_table_free(hg_table *t) {
    free(t->values);
    memset(t, 0, sizeof *t);
}

int hg_table_col(const hg_table *t, const char *name) {
    for (int c = 0; c < t->n_cols; c++)
        if (!strcmp(t->names[c], name)) return c;
    return -1;
}

static hg_status slurp(const char *path, char **out, size_t *n) {
    return hg_read_text_file(path, HG_TEXT_MAX_BYTES, out, n);
}

/* Splits buf into lines in place (handles \n, \r\n and lone \r); skips a
 * UTF-8 BOM. Returns the count; lines[] gets pointers. */
static int split_lines(char *buf, char ***lines_out) {
    if ((unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB && (unsigned char)buf[2] == 0xBF)
        buf += 3;
    int cap = 64, n = 0;
    char **lines = malloc(sizeof *lines * cap);
    if (!lines) return -1;
    char *p = buf;
    while (*p) {
        if (n == cap) {
            cap *= 2;
            char **nl = realloc(lines, sizeof *lines * cap);
            if (!nl) {
                free(lines);
                return -1;
            }
            lines = nl;
        }
        lines[n++] = p;
        while (*p && *p != '\n' && *p != '\r') p++;
        if (*p == '\r') {
            *p++ = 0;
            if (*p == '\n') p++;
        } else if (*p == '\n') {
            *p++ = 0;
        }
    }
    *lines_out = lines;
    return n;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int blank(const char *s) {
    while (isspace((unsigned char)*s)) s++;
    return *s == 0;
}

/* Parses a finite number; 0 ok, -1 not a number, -2 NaN/Inf. */
static int parse_num(const char *s, double *v) {
    if (!*s) return -1;
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end) return -1;
    if (!isfinite(x)) return -2;
    *v = x;
    return 0;
}

static char *strip_quotes(char *s) {
    size_t L = strlen(s);
    if (L >= 2 && s[0] == '"' && s[L - 1] == '"') {
        s[L - 1] = 0;
        return s + 1;
    }
    return s;
}

/* Splits a line on `sep` (sep 0: runs of whitespace) into at most max fields. */
static int split_fields(char *line, char sep, char **f, int max) {
    int n = 0;
    if (!sep) {
        char *p = line;
        for (;;) {
            while (isspace((unsigned char)*p)) p++;
            if (!*p) break;
            if (n == max) return max + 1;
            f[n++] = p;
            while (*p && !isspace((unsigned char)*p)) p++;
            if (*p) *p++ = 0;
        }
        return n;
    }
    char *p = line;
    for (;;) {
        if (n == max) return max + 1;
        f[n++] = p;
        char *c = strchr(p, sep);
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    for (int i = 0; i < n; i++) f[i] = trim(f[i]);
    return n;
}

static int is_index_name(const char *s) {
    return !*s || !strcmp(s, "index") || !strcmp(s, "row") || !strcmp(s, "Unnamed: 0");
}

/* Shared body: header fields already split into names (n_names); data
 * lines from `first`. `sep` as split_fields. */
static hg_status read_rows(const char *path, char **lines, int n_lines, int first,
                           char sep, char **names, int n_names, int drop_first,
                           hg_table *out) {
    int nc = n_names - drop_first;
    if (nc <= 0) return hg_error(HG_ERR_FORMAT, "%s:%d: header has no value columns", path, first);
    if (nc > HG_TABLE_MAX_COLS)
        return hg_error(HG_ERR_FORMAT, "%s: %d columns, at most %d supported", path, nc, HG_TABLE_MAX_COLS);
    out->n_cols = nc;
    for (int c = 0; c < nc; c++) {
        const char *nm = names[c + drop_first];
        if (!*nm) return hg_error(HG_ERR_FORMAT, "%s:%d: column %d has an empty name", path, first, c + drop_first + 1);
        if (strlen(nm) >= HG_TABLE_NAME_MAX)
            return hg_error(HG_ERR_FORMAT, "%s:%d: column name '%.40s...' too long", path, first, nm);
        for (int d = 0; d < c; d++)
            if (!strcmp(out->names[d], nm))
                return hg_error(HG_ERR_FORMAT, "%s:%d: duplicate column name '%s'", path, first, nm);
        strcpy(out->names[c], nm);
    }
    int n_data = 0;
    for (int i = first; i < n_lines; i++)
        if (!blank(lines[i]) && !(sep == 0 && trim(lines[i])[0] == '#')) n_data++;
    if (!n_data) return hg_error(HG_ERR_FORMAT, "%s: no data rows after the header", path);
    out->values = malloc(sizeof(double) * (size_t)n_data * nc);
    if (!out->values) return hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
    int r = 0;
    char *f[HG_TABLE_MAX_COLS + 2];
    for (int i = first; i < n_lines; i++) {
        if (blank(lines[i])) continue;
        if (sep == 0 && trim(lines[i])[0] == '#') continue;
        int nf = split_fields(lines[i], sep, f, HG_TABLE_MAX_COLS + 1);
        if (nf != n_names)
            return hg_error(HG_ERR_FORMAT, "%s:%d: %d fields, the header has %d", path, i + 1,
                            nf > HG_TABLE_MAX_COLS ? nf - 1 : nf, n_names);
        for (int c = 0; c < nc; c++) {
            char *v = strip_quotes(f[c + drop_first]);
            int rc = parse_num(v, &out->values[(size_t)r * nc + c]);
            if (rc == -2)
                return hg_error(HG_ERR_NUMERIC, "%s:%d: column %s: non-finite value '%s'", path, i + 1,
                                out->names[c], v);
            if (rc)
                return hg_error(HG_ERR_FORMAT, "%s:%d: column %s: %s '%.40s'", path, i + 1, out->names[c],
                                *v ? "non-numeric value" : "empty value", v);
        }
        r++;
    }
    out->n_rows = r;
    return hg_ok();
}

hg_status hg_table_read_csv(const char *path, hg_table *out) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    HG_TRY(slurp(path, &buf, &len));
    char **lines = NULL;
    int n = split_lines(buf, &lines);
    hg_status s = hg_ok();
    if (n < 0) {
        s = hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    int h = 0;
    while (h < n && blank(lines[h])) h++;
    if (h == n) {
        s = hg_error(HG_ERR_FORMAT, "%s: empty file (no header line)", path);
        goto done;
    }
    char *names[HG_TABLE_MAX_COLS + 2];
    int nn = split_fields(lines[h], ',', names, HG_TABLE_MAX_COLS + 1);
    if (nn > HG_TABLE_MAX_COLS) {
        s = hg_error(HG_ERR_FORMAT, "%s: more than %d columns", path, HG_TABLE_MAX_COLS);
        goto done;
    }
    for (int i = 0; i < nn; i++) names[i] = strip_quotes(names[i]);
    int drop = nn > 1 && is_index_name(names[0]);
    s = read_rows(path, lines, n, h + 1, ',', names, nn, drop, out);
done:
    free(lines);
    free(buf);
    if (s.code) hg_table_free(out);
    return s;
}

hg_status hg_table_read_whitespace(const char *path, hg_table *out) {
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    HG_TRY(slurp(path, &buf, &len));
    char **lines = NULL;
    int n = split_lines(buf, &lines);
    hg_status s = hg_ok();
    if (n < 0) {
        s = hg_error(HG_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    int h = 0;
    while (h < n && blank(lines[h])) h++;
    char *hl = h < n ? trim(lines[h]) : NULL;
    if (!hl || hl[0] != '#') {
        s = hg_error(HG_ERR_FORMAT, "%s:%d: expected a header line '#name1 name2 ...'", path, h + 1);
        goto done;
    }
    char *names[HG_TABLE_MAX_COLS + 2];
    int nn = split_fields(hl + 1, 0, names, HG_TABLE_MAX_COLS + 1);
    if (nn > HG_TABLE_MAX_COLS) {
        s = hg_error(HG_ERR_FORMAT, "%s: more than %d columns", path, HG_TABLE_MAX_COLS);
        goto done;
    }
    s = read_rows(path, lines, n, h + 1, 0, names, nn, 0, out);
done:
    free(lines);
    free(buf);
    if (s.code) hg_table_free(out);
    return s;
}
