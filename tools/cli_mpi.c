/* The MPI side of the commands that run data-parallel under mpirun
 * (train, sample, likelihood, nelbo; runtime/comm.h): start, and the end
 * with one message per failure and a job-wide abort when the ranks lost
 * step with each other. */
#include <string.h>

#include "tools/cli.h"

int hg_cli_mpi_begin(const char *cmd, hg_comm *c) {
    hg_status s = hg_comm_init(c);
    if (s.code) return hg_cli_status(cmd, s);
    return HG_EXIT_OK;
}

int hg_cli_mpi_end(const char *cmd, hg_comm *c, hg_status s) {
    int rc = HG_EXIT_OK;
    if (s.code) {
        /* a rank that only points at another rank's message stays quiet */
        if (c->size < 2) rc = hg_cli_status(cmd, s);
        else if (c->rank == 0 || (s.code != HG_ERR_INTERRUPTED && !strstr(s.msg, "(its message above)"))) {
            fprintf(stderr, "halograph %s: rank %d: %s\n", cmd, c->rank, s.msg);
            rc = s.code == HG_ERR_INTERRUPTED ? 130 : HG_EXIT_FAIL;
        } else {
            rc = s.code == HG_ERR_INTERRUPTED ? 130 : HG_EXIT_FAIL;
        }
        if (hg_comm_is_fatal(s)) hg_comm_abort(c, rc);
    }
    hg_comm_finalize(c);
    return rc;
}
