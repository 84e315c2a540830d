/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "condition.h"
#include "util.h"

static const char *const state_names[_COND_STATE_MAX] = {
        [COND_OK] = "ok",
        [COND_PROBLEM] = "problem",
        [COND_UNKNOWN] = "unknown",
};

const char *cond_state_to_string(CondState s) {
        if (s < 0 || s >= _COND_STATE_MAX)
                return NULL;
        return state_names[s];
}

CondState cond_state_from_string(const char *s) {
        for (int i = 0; s && i < _COND_STATE_MAX; i++)
                if (strcmp(state_names[i], s) == 0)
                        return (CondState) i;
        return _COND_STATE_INVALID;
}

Condition *condition_new(const char *name) {
        Condition *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->name = strdup(name);
        if (!c->name)
                return condition_free(c);
        c->state = COND_UNKNOWN;
        return c;
}

Condition *condition_free(Condition *c) {
        if (!c)
                return NULL;
        free(c->name);
        free(c->message);
        free(c->details);
        eventlog_free(&c->changes);
        free(c);
        return NULL;
}

bool condition_refresh_flapping(Condition *c, uint64_t now, const RateSpec *flap) {
        eventlog_prune(&c->changes, now, flap->window_usec);
        c->flapping = flap->count > 0 && eventlog_count(&c->changes, now, flap->window_usec) >= flap->count;
        return c->flapping;
}

static int replace_str(char **p, const char *s) {
        char *n = NULL;
        if (s && !(n = strdup(s)))
                return -ENOMEM;
        free(*p);
        *p = n;
        return 0;
}

int condition_update(Condition *c, CondState s, const char *message, const char *details,
                     uint64_t now, const RateSpec *flap) {
        int changed = 0, r;

        if (replace_str(&c->message, message) < 0 || replace_str(&c->details, details) < 0)
                return -ENOMEM;
        c->last_run = now;
        if (s != c->state || c->since == 0) {
                /* The very first result is not a change: there was nothing to flap from. */
                if (c->since != 0) {
                        r = eventlog_add(&c->changes, now);
                        if (r < 0)
                                return r;
                }
                c->state = s;
                c->since = now;
                changed = 1;
        }
        condition_refresh_flapping(c, now, flap);
        return changed;
}

void condition_observed(Condition *c, bool changed, uint64_t now_bt) {
        /* A restored state seen again keeps its since (and its boot-clock time only when the
         * change happened in this boot). */
        if (changed)
                c->since_bt = now_bt;
        c->observed_bt = now_bt;
}

uint64_t condition_held_for(const Condition *c, uint64_t now, uint64_t now_bt) {
        if (c->since_bt)
                return usec_sub_sat(now_bt, c->since_bt);
        return usec_sub_sat(now, c->since);
}
