/* Philox4x32-10 counter-based RNG (Salmon, Moraes, Dror, Shaw: "Parallel
 * random numbers: as easy as 1, 2, 3", SC'11) and the draws of the random
 * ops (ir.h). Written from the paper's description. */
#include <math.h>

#include "ir/ir.h"


void hg_philox4x32_10(const uint32_t key[2], const uint32_t ctr[4], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)HG_PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)HG_PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += HG_PHILOX_W0;
        k1 += HG_PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static void block(uint32_t seed, uint32_t stream, uint32_t step, uint32_t replica,
                  uint64_t element, uint32_t out[4]) {
    uint64_t b = element / 4;
    uint32_t key[2] = {seed, stream};
    uint32_t ctr[4] = {(uint32_t)b, step, replica, (uint32_t)(b >> 32)};
    hg_philox4x32_10(key, ctr, out);
}

static double u24(uint32_t w) { return (double)(w >> 8) * (1.0 / 16777216.0); }

double hg_rng_uniform(uint32_t seed, uint32_t stream, uint32_t step,
                      uint32_t replica, uint64_t element) {
    uint32_t w[4];
    block(seed, stream, step, replica, element, w);
    return u24(w[element % 4]);
}

double hg_rng_normal(uint32_t seed, uint32_t stream, uint32_t step,
                     uint32_t replica, uint64_t element) {
    uint32_t w[4];
    block(seed, stream, step, replica, element, w);
    int lane = (int)(element % 4);
    int a = lane < 2 ? 0 : 2;
    return hg_rng_box_muller(w[a], w[a + 1], lane % 2);
}

double hg_rng_box_muller(uint32_t wa, uint32_t wb, int32_t second) {
    double u1 = ((double)(wa >> 8) + 1.0) * (1.0 / 16777216.0);
    double u2 = u24(wb);
    double r = sqrt(-2.0 * log(u1));
    double th = 2.0 * M_PI * u2;
    return second ? r * sin(th) : r * cos(th);
}
