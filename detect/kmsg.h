/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sources.h"

/* The kernel log source: reads /dev/kmsg (or the file or FIFO named by kmsg = in medic.conf)
 * without blocking, keeps the last KMSG_RING_SIZE records and triggers the event "kmsg". */

#define KMSG_RING_SIZE 2048
#define KMSG_MESSAGE_MAX 4096    /* longer messages are cut */

typedef struct KmsgRecord {
        uint64_t seq;            /* the kernel's sequence number */
        int priority;            /* 0 (emerg) .. 7 (debug) */
        int facility;            /* 0 = kernel, 1 = user, ... */
        uint64_t usec;           /* kernel timestamp: microseconds since boot (CLOCK_MONOTONIC) */
        uint64_t received;       /* realtime usec when medicd read it */
        char *message;
} KmsgRecord;

typedef struct Kmsg Kmsg;

extern const MedicSource kmsg_source;

/* Parses one line "PRIO,SEQ,USEC,FLAGS[,...];MESSAGE" (without the newline). Returns 0 and
 * fills *ret (message malloc'ed), or -EINVAL for a line that is not a record (continuation
 * lines " KEY=value" included), -ENOMEM. */
int kmsg_parse_record(const char *line, size_t len, KmsgRecord *ret);

/* The running source of this medicd (one manager per process), or NULL when it is not
 * running; *ret_error (may be NULL) then says why ("/dev/kmsg: Permission denied"). */
const Kmsg *kmsg_current(const char **ret_error);
/* Records held, oldest first. */
size_t kmsg_count(const Kmsg *k);
const KmsgRecord *kmsg_get(const Kmsg *k, size_t i);
/* Records that fell out of the ring before they were read by anyone, and records the
 * kernel overwrote before medicd read them (EPIPE). */
uint64_t kmsg_dropped(const Kmsg *k);
const char *kmsg_path(const Kmsg *k);
