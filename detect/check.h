/* SPDX-License-Identifier: MIT */
#pragma once

#include "condition.h"
#include "lua-decl.h"

#define CHECK_SKIP _COND_STATE_MAX /* the check does not apply: no condition at all */

/* What a result may carry: a longer message is cut (at a character boundary) and ends with
 * "… [truncated N bytes]"; details whose JSON text is longer are replaced by
 * {"truncated": "… [truncated: more than 65536 bytes]"}. Logged once per check. */
#define CHECK_MESSAGE_MAX 4096
#define CHECK_DETAILS_MAX (64 * 1024)

/* Delivers one check result: state is a CondState or CHECK_SKIP; message and details within
 * CHECK_MESSAGE_MAX and CHECK_DETAILS_MAX. */
typedef void (*check_result_t)(const CheckDecl *d, int state, const char *message, const char *details,
                               uint64_t duration_usec, void *userdata);

typedef struct CheckRunner CheckRunner;

/* Schedules d: first run soon (spread by name over up to 1 s), then every d->every after the
 * previous start; a run still going when the next is due is not started twice. Each path of
 * d->watch is watched through inotify on its directory: the path created, written, moved or
 * removed runs the check at once; a directory that does not exist (yet) is tried again at every
 * run, the poll covering it meanwhile. */
int checkrunner_new(sd_event *e, CheckDecl *d, check_result_t cb, void *userdata, CheckRunner **ret);
/* Starts a run now unless one is going; the result goes to the callback as usual. */
int checkrunner_run_now(CheckRunner *c);
bool checkrunner_busy(const CheckRunner *c);
const CheckDecl *checkrunner_decl(const CheckRunner *c);
CheckRunner *checkrunner_free(CheckRunner *c);
