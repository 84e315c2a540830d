/* SPDX-License-Identifier: MIT */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void *take_ptr_impl(void **p) {
        void *r = *p;
        *p = NULL;
        return r;
}
#define TAKE_PTR(p) ((__typeof__(p)) take_ptr_impl((void **) &(p)))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* A growable list of owned strings; v is always NULL-terminated. */
typedef struct StrList {
        char **v;
        size_t n;
} StrList;

int strlist_add(StrList *l, const char *s);
int strlist_addf(StrList *l, const char *fmt, ...) _printf_(2, 3);
void strlist_clear(StrList *l);
bool strlist_contains(const StrList *l, const char *s);
/* Removes every entry equal to s; returns whether there was one. */
bool strlist_remove(StrList *l, const char *s);

/* Clocks: timers use CLOCK_MONOTONIC (usec), persisted times use realtime (usec since epoch). */
uint64_t now_monotonic(void);
uint64_t now_realtime(void);
/* CLOCK_BOOTTIME: like CLOCK_MONOTONIC but counting suspend; within one boot it never steps,
 * so durations within a boot are measured on it (and persisted with the boot id). */
uint64_t now_boottime(void);
/* The clock as the kernel reads it (CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME), usec. */
uint64_t now_clock_real(clockid_t id);
/* Where now_monotonic/now_realtime/now_boottime read from: fn(id) instead of the kernel's
 * clocks; NULL (the default) is the kernel's. Only `medicd --test` sets one (its virtual
 * clock); nothing else may. */
typedef uint64_t (*clock_source_t)(clockid_t id);
void clock_set_source(clock_source_t fn);
/* a - b, or 0 when b is later than a (a wall clock stepped back reads as "not yet"). */
static inline uint64_t usec_sub_sat(uint64_t a, uint64_t b) {
        return a > b ? a - b : 0;
}

bool streq_ptr(const char *a, const char *b);
char *strdup_or_null(const char *s);
char *strprintf(const char *fmt, ...) _printf_(1, 2);
/* A copy of s fit for one log line: control bytes become spaces, at most max bytes (cut at a
 * UTF-8 boundary, "..." added when cut). NULL when out of memory. */
char *str_excerpt(const char *s, size_t max);

/* Writes data to path atomically: temporary file in the same directory, fsync, rename,
 * fsync of the directory. Returns 0 or a negative errno. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
/* Removes the temporary files write_file_atomic() leaves in DIR when the process dies before
 * its rename (".NAME.XXXXXX"); only while no other process writes there. Returns how many. */
int atomic_temps_remove(const char *dir);

/* Reads a whole regular file of at most max bytes. Returns 0 or a negative errno (-EFBIG when larger). */
int read_file(const char *path, size_t max, char **ret, size_t *ret_size);

/* The first word of a file of at most max bytes (a boot id, say): 0, -ENODATA when the file holds
 * only white space, or read_file()'s error. */
int read_word(const char *path, size_t max, char **ret);
/* The boot id in path (/proc/sys/kernel/random/boot_id; tests point it at a file), or NULL. */
char *boot_id_read(const char *path);

/* Creates a directory and its parents (like mkdir -p). */
int mkdir_p(const char *path, mode_t mode);
