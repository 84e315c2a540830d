/* SPDX-License-Identifier: MIT */
/* state_parse() (daemon/state.c): the text of STATE_DIR/state.json into empty tables. */
#include <syslog.h>

#include "fuzz.h"
#include "log.h"
#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_string(data, size), *why = NULL;
        CondTable conds = {};
        RuleTable rstates = {};
        Journal journal = {};
        EventLog disruptions = {};
        StateParts p = { .conds = &conds, .rstates = &rstates, .journal = &journal, .disruptions = &disruptions,
                         .boot_id = "0123456789abcdef0123456789abcdef" };

        log_set_max_level(LOG_EMERG);
        if (state_parse(&p, s, &why) < 0 && (!why || conds.n || rstates.n || journal.history))
                abort(); /* a refused file changes nothing and says why */
        free(why);
        condtable_clear(&conds);
        ruletable_clear(&rstates);
        json_object_put(journal.history);
        free(journal.parked_reason);
        eventlog_free(&disruptions);
        free(s);
        return 0;
}
