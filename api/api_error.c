/* libhalograph's error reporting: the thread-local last-error buffer
 * (halograph.h), the progress adapters, the version and thread count. */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"

/* The one mutable global of the library (halograph.h "Conventions"): each
 * thread's message of its last failed call. */
static _Thread_local char last_error[sizeof(((hg_status *)0)->msg)];

int hg_api_status(hg_status s) {
    if (s.code != HG_OK) snprintf(last_error, sizeof last_error, "%s", s.msg);
    return (int)s.code;
}

int hg_api_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hg_status s = hg_verror((hg_code)code, fmt, ap);
    va_end(ap);
    return hg_api_status(s);
}

const char *halograph_last_error(void) { return last_error; }

const char *halograph_version(void) { return HG_VERSION; }

int halograph_set_threads(int n) {
    if (n < 1) return hg_api_fail(HALOGRAPH_ERR_INVALID, "threads: %d is not >= 1", n);
    omp_set_num_threads(n);
    return HALOGRAPH_OK;
}

void hg_api_progress_init(hg_api_progress *p, halograph_progress_fn fn, void *user) {
    p->fn = fn;
    p->user = user;
    p->stop = 0;
}

void hg_api_progress_count(void *user, int64_t done, int64_t total) {
    hg_api_progress *p = user;
    if (p->fn && p->fn(p->user, done, total, NAN)) p->stop = 1;
}

_Static_assert((int)HALOGRAPH_ERR_INVALID == (int)HG_ERR_INVALID && (int)HALOGRAPH_ERR_IO == (int)HG_ERR_IO &&
                   (int)HALOGRAPH_ERR_FORMAT == (int)HG_ERR_FORMAT && (int)HALOGRAPH_ERR_NUMERIC == (int)HG_ERR_NUMERIC &&
                   (int)HALOGRAPH_ERR_UNSUPPORTED == (int)HG_ERR_UNSUPPORTED &&
                   (int)HALOGRAPH_ERR_NOMEM == (int)HG_ERR_NOMEM && (int)HALOGRAPH_ERR_INTERRUPTED == (int)HG_ERR_INTERRUPTED,
               "halograph.h return codes are the library's hg_code values");
