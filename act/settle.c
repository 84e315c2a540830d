/* SPDX-License-Identifier: MIT */
/* The health gate after a disruption, shared by the reboot and the maintenance. */
#include <string.h>

#include "killpoint.h"
#include "duration.h"
#include "log.h"
#include "settle.h"

void settle_clear(SettleState *st) {
        free(st->sick_why);
        *st = (SettleState) {};
}

void settle_begin(SettleState *st) {
        settle_clear(st);
        st->start_bt = now_boottime();
}

void settle_sick(SettleState *st, const char *why) {
        st->sick_escalated = true;
        free(st->sick_why);
        st->sick_why = strdup_or_null(why);
}

/* Every health condition is ok, as reported by a run of its check that began since the
 * settle did (the run's start: when its result arrived less how long it took). */
static bool healthy_now(ActHost *h, const SettleState *st, char **ret_why) {
        for (size_t i = 0; h->set && i < h->set->n_checks; i++) {
                CheckDecl *d = h->set->checks[i];
                Condition *c;
                if (!d->health)
                        continue;
                c = condtable_find(h->conds, d->name);
                if (!c || c->observed_bt == 0 || usec_sub_sat(c->observed_bt, c->duration_usec) < st->start_bt) {
                        *ret_why = strprintf("%s has not been checked since the settle began", d->name);
                        return false;
                }
                if (c->state != COND_OK) {
                        *ret_why = strprintf("%s is %s: %s", d->name, cond_state_to_string(c->state), c->message ? c->message : "");
                        return false;
                }
        }
        return true;
}

bool settle_tick(ActHost *h, SettleState *st, const char *rule, const char *after, uint64_t settle,
                 uint64_t timeout) {
        _cleanup_free_ char *why = NULL;
        uint64_t now = now_boottime();
        char buf[32];

        if (st->start_bt == 0)
                settle_begin(st);
        if (!healthy_now(h, st, &why)) {
                st->healthy_bt = 0;
                if (!st->sick_escalated && usec_sub_sat(now, st->start_bt) >= timeout) {
                        _cleanup_free_ char *msg = strprintf("not healthy %s after %s: %s",
                                                             duration_format(timeout, buf, sizeof buf), after, why);
                        log_event(LOG_ERR, MEDIC_MSG_CAME_BACK_SICK, LOG_FIELDS({ "MEDIC_RULE", rule }, { "MEDIC_REASON", msg }),
                                  "The node came back sick (%s); keeping the permission, the group's rollout stops here", msg);
                        journal_escalate(h->journal, "came-back-sick", rule, msg);
                        settle_sick(st, msg);
                        KILLPOINT("settle-sick");
                }
                return false;
        }
        if (st->healthy_bt == 0) {
                st->healthy_bt = now;
                log_info("Healthy after %s; releasing the permission after %s of health", after,
                         duration_format(settle, buf, sizeof buf));
                KILLPOINT("settle-healthy");
        }
        if (usec_sub_sat(now, st->healthy_bt) < settle)
                return false;
        KILLPOINT("settle-done");
        return true;
}

char *settle_describe(ActHost *h, const SettleState *st, uint64_t settle) {
        _cleanup_free_ char *why = NULL;
        char a[32], b[32];

        if (st->start_bt == 0)
                return strdup("medicd restarted: settling again on fresh observations");
        if (!healthy_now(h, st, &why))
                return strprintf("every health condition ok for %s; %s", duration_format(settle, a, sizeof a), why);
        if (st->healthy_bt == 0)
                return strprintf("every health condition ok for %s; healthy now", duration_format(settle, a, sizeof a));
        return strprintf("every health condition ok for %s; healthy for %s", duration_format(settle, a, sizeof a),
                         duration_format(usec_sub_sat(now_boottime(), st->healthy_bt), b, sizeof b));
}

int64_t settle_wall(uint64_t bt) {
        if (bt == 0)
                return 0;
        return (int64_t) (usec_sub_sat(now_realtime(), usec_sub_sat(now_boottime(), bt)) / USEC_PER_SEC);
}
