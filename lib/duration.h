/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>
#include <stddef.h>

/* Parses a duration: a sequence of <number><unit> with units ms, s, m (or min), h, d, w,
 * e.g. "500ms", "90s", "5m", "1h30m", "2d". A bare number means seconds. Whitespace between
 * parts is allowed ("1h 30m"). Returns 0 and the value in microseconds, or -EINVAL (empty,
 * unknown unit, garbage) or -ERANGE (overflow). */
int duration_parse(const char *s, uint64_t *ret_usec);

/* Formats usec as the shortest exact form: "0", "500ms", "90s" -> "1m30s", "1h", "2d3h".
 * Writes at most n bytes including NUL and returns buf. */
char *duration_format(uint64_t usec, char *buf, size_t n);

/* Parses a size with optional binary suffix K, M, G (or KiB, MiB, GiB; case-insensitive).
 * "64M" = 64*1024*1024. Returns 0 or -EINVAL / -ERANGE. */
int size_parse(const char *s, uint64_t *ret_bytes);
