/* SPDX-License-Identifier: MIT */
#pragma once
/* Persistent state: see manager.h (state_load, state_save) and HACKING.md for the format. */
#include "manager.h"

/* What a state file restores: the tables and the journal it fills (given empty or as they are;
 * entries are added or overwritten) and this boot's id (boot-clock times of another boot are
 * dropped). */
typedef struct StateParts {
        CondTable *conds;
        RuleTable *rstates;
        Journal *journal;          /* history, parked */
        EventLog *disruptions;
        const char *boot_id;       /* may be NULL */
} StateParts;

/* Parses the text of a state file into p (state_load() reads the file, this parses it; the
 * fuzz target calls it alone). -EBADMSG with *ret_why (malloc'ed) when it is not a state file;
 * then nothing was changed. */
int state_parse(const StateParts *p, const char *text, char **ret_why);
