/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <time.h>

/* Maintenance windows.
 *
 * Syntax: "DAYS HH:MM-HH:MM [TIMEZONE]"
 *   DAYS: a comma-separated list of days or day ranges, Mon Tue Wed Thu Fri Sat Sun
 *         (case-insensitive, ranges may wrap: "Fri-Mon"), or "daily" / "*".
 *   HH:MM-HH:MM: start inclusive, end exclusive; "24:00" allowed as end; when end <= start the
 *         window crosses midnight and belongs to the day it starts on ("Fri 22:00-02:00" covers
 *         Friday 22:00 to Saturday 02:00).
 *   TIMEZONE: an IANA name from the system tz database ("Europe/Berlin", "UTC"); default: the
 *         system's local time. An unknown zone is an error (checked against
 *         /usr/share/zoneinfo, or $TZDIR when set).
 * Examples: "Mon-Fri 02:00-05:00 Europe/Berlin", "Sat,Sun 00:00-24:00", "daily 22:00-04:00 UTC".
 */
typedef struct Window Window;

/* Returns 0 and a new window, or -EINVAL with *ret_error set to a malloc'ed message
 * saying what is wrong ("unknown day 'Mox'", "unknown time zone 'Mars/Base'"). */
int window_parse(const char *s, Window **ret, char **ret_error);

/* True when t falls inside the window. */
bool window_contains(const Window *w, time_t t);

/* The next time >= t at which the window is open (t itself if open now); (time_t) -1 if never. */
time_t window_next_open(const Window *w, time_t t);

/* The original text. */
const char *window_text(const Window *w);

Window *window_free(Window *w);
