/* SPDX-License-Identifier: MIT */
/* What the two invariants tests (test-invariants.c: decide() and the permission owner with a
 * model of the rule engine; test-invariants-manager.c: the daemon's own manager) share: the
 * seeded generator, failing writes, the environment knobs, the clock of the figures. */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* splitmix64. A history's seed comes from it too (rng_next(&master)), never seed + i * its
 * step: history i + 1 would be history i shifted by one draw. */
static inline uint64_t rng_next(uint64_t *s) {
        uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
        z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
        return z ^ (z >> 31);
}

static inline unsigned rng_below(uint64_t *s, unsigned n) {
        return (unsigned) (rng_next(s) % n);
}

/* Failing writes, for real: with RLIMIT_FSIZE at 0 every write(2) to a regular file fails
 * (EFBIG, SIGXFSZ ignored), also for root; reading and unlinking still work, as on a full or
 * failing disk. */
static inline void fsize_limit(bool on) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_FSIZE, &rl) < 0)
                return;
        rl.rlim_cur = on ? 0 : rl.rlim_max;
        (void) setrlimit(RLIMIT_FSIZE, &rl);
}

static inline uint64_t env_u64(const char *name, uint64_t def) {
        const char *s = getenv(name);
        return s && *s ? strtoull(s, NULL, 0) : def;
}

static inline double now_sec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Where the histories' files go: tmpfs when there is one (fsync is cheap there). */
static inline const char *invariants_tmp(void) {
        return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
}
