/* Processes of a data-parallel run (issue 15): the thin layer over MPI
 * (OpenMPI, Debian openmpi-bin / libopenmpi-dev) that train, sample,
 * likelihood and nelbo use under `mpirun -np P`. Built with MPI when CMake
 * finds it (HG_HAVE_MPI, cmake/deps.cmake); without it, or when the
 * process was not started by mpirun, every function is the one-process
 * case (rank 0 of 1, reductions are copies) and nothing of MPI is called.
 *
 * Failure handling: MPI_COMM_WORLD gets MPI_ERRORS_RETURN, and every
 * collective here is non-blocking and polled against the communicator's
 * timeout: a rank that does not arrive in time (hung, stopped, dead) makes
 * the call return HG_ERR_IO naming the missing rank(s); the caller prints
 * it and calls hg_comm_abort, which ends the whole job (mpirun exits
 * non-zero). A rank killed outright is also detected by mpirun itself,
 * which then kills the others. */
#ifndef HG_COMM_H
#define HG_COMM_H

#include <stddef.h>
#include <stdint.h>

#include "ir/ir.h"

/* The processes of a run. size 1 / rank 0 / active 0: one process. */
typedef struct {
    int rank, size;
    int active;       /* 1 if MPI was initialised by hg_comm_init */
    double timeout_s; /* how long a collective waits for the slowest rank */
} hg_comm;

#define HG_COMM_TIMEOUT_DEFAULT 600.0

/* 1 if this build has MPI. */
int hg_comm_available(void);

/* Initialises c: with MPI built in and the process started by an MPI
 * launcher (the environment holds OMPI_COMM_WORLD_SIZE, PMIX_RANK or
 * PMI_SIZE), calls MPI_Init and sets rank/size and the error handler; else
 * rank 0 of 1 without touching MPI. timeout_s = HG_COMM_TIMEOUT_DEFAULT.
 * Errors: HG_ERR_IO if MPI_Init fails. */
hg_status hg_comm_init(hg_comm *c);

/* MPI_Finalize when active (after every collective of the run). */
void hg_comm_finalize(hg_comm *c);

/* Ends every rank of the job at once (MPI_Abort with code; exit(code)
 * with one process). Does not return. */
void hg_comm_abort(const hg_comm *c, int code);

/* In-place sums over all ranks: buf[n] of each rank is replaced by the
 * elementwise sum (same on every rank; the summation order is MPI's, fixed
 * for a given P). `what` names the call in a timeout message ("gradient
 * allreduce of step 7"). NULL c or one process: nothing to do.
 * Errors: HG_ERR_IO ("rank 2 did not reach the <what> within 600 s (hung or
 * dead)" or an MPI error string). */
hg_status hg_comm_sum_f32(const hg_comm *c, float *buf, int64_t n, const char *what);
hg_status hg_comm_sum_f64(const hg_comm *c, double *buf, int64_t n, const char *what);
/* Largest value of v over the ranks (e.g. an error flag). */
hg_status hg_comm_max_i32(const hg_comm *c, int32_t *v, const char *what);

/* Gathers to rank 0: rank r contributes counts[r] bytes at mine; on rank
 * 0, all is filled rank after rank (sum of counts bytes; mine may be all on
 * rank 0: its part is then in place); all is unused on other ranks. counts[size] is the same on every rank. Errors as above. */
hg_status hg_comm_gather(const hg_comm *c, const void *mine, const int64_t *counts, void *all,
                         const char *what);

/* Broadcasts n bytes of buf from rank 0 to every rank. Errors as above. */
hg_status hg_comm_bcast(const hg_comm *c, void *buf, int64_t n, const char *what);

/* The outcome of a step every rank took part in: the lowest rank whose s
 * failed decides; that rank gets its own status back, every other rank
 * that code with "rank K failed in the <what> (its message above)" (or its
 * own failure). One process: s. Errors of the collective itself: as above. */
hg_status hg_comm_agree(const hg_comm *c, hg_status s, const char *what);

/* Gathers rows to rank 0: n_rows rows of row_bytes at base, dealt to the
 * ranks in units of `unit` rows (hg_comm_shard of ceil(n_rows / unit)
 * units; the last unit may be short): rank r computed its rows in place at
 * base; afterwards rank 0's base holds every row (other ranks' base
 * unchanged). */
hg_status hg_comm_gather_rows(const hg_comm *c, void *base, int64_t n_rows, int64_t unit, int64_t row_bytes,
                              const char *what);
/* The rows [*r0, *r1) that this rank computes under hg_comm_gather_rows. */
void hg_comm_my_rows(const hg_comm *c, int64_t n_rows, int64_t unit, int64_t *r0, int64_t *r1);

/* Every error of a collective above starts with HG_COMM_FATAL: the ranks
 * no longer agree on where they are, so the job must end (hg_comm_abort).
 * hg_comm_is_fatal(s): 1 for such a status. */
#define HG_COMM_FATAL "MPI: "
int hg_comm_is_fatal(hg_status s);

/* The contiguous shard of n items (batch rows, clouds, grid points) that
 * rank r of P takes: the first n % P ranks take floor(n/P) + 1 items, the
 * others floor(n/P); *start is the index of the first. */
void hg_comm_shard(int64_t n, int rank, int size, int64_t *start, int64_t *count);

#endif
