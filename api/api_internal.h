/* Internals shared by the api/ sources of libhalograph (not installed):
 * the thread-local error buffer, the progress adapters and the handle
 * layouts. The public interface is api/halograph.h. */
#ifndef HG_API_INTERNAL_H
#define HG_API_INTERNAL_H

#include <signal.h>

#include "api/halograph.h"
#include "models/drivers.h"

/* Stores s's message as this thread's last error; returns its code (0 for
 * success, leaving the last error unchanged). */
int hg_api_status(hg_status s);
/* hg_api_status(hg_error(code, fmt, ...)). */
int hg_api_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A public progress callback seen through the drivers' interfaces: a
 * nonzero return sets `stop`, the drivers' interrupt flag. */
typedef struct {
    halograph_progress_fn fn;
    void *user;
    volatile sig_atomic_t stop;
} hg_api_progress;
void hg_api_progress_init(hg_api_progress *p, halograph_progress_fn fn, void *user);
/* For hg_sample_options / hg_nelbo_options .progress (user = the adapter). */
void hg_api_progress_count(void *user, int64_t done, int64_t total);

struct halograph_run {
    hg_run run;
    char backend[32]; /* "" = default */
    char profile[HG_PATH_MAX]; /* "" = no kernel profile of sample calls */
};

/* Builds a pipeline of the n given clouds x f32 [n, N, F] in physical
 * units (linear mass), mask f32 [n, N] or NULL, cond f32 [n, C] with the
 * run's normalisation, as hg_pipeline_init would from a dataset holding
 * them (log10 mass; rows with mask 0 ignored). Checks N, F against the
 * run, finite values, positions in [0, L), mass > 0, masks 0/1 with a
 * real row per cloud, finite cond. pl is freed with hg_pipeline_free. */
hg_status hg_api_clouds_pipeline(const hg_run *r, const float *x, int64_t n, int64_t N, int64_t F,
                                 const float *mask, const float *cond, hg_pipeline *pl);

#endif
