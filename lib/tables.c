/* SPDX-License-Identifier: MIT */
/* The condition table and the rule-state table (see tables.h). */
#include <stdlib.h>
#include <string.h>

#include "tables.h"
#include "util.h"

Condition *condtable_find(const CondTable *t, const char *name) {
        return strmap_get(&t->index, name);
}

Condition *condtable_get(CondTable *t, const char *name) {
        Condition *c = condtable_find(t, name), **a;

        if (c)
                return c;
        c = condition_new(name);
        a = c ? realloc(t->v, (t->n + 1) * sizeof(*a)) : NULL;
        if (a)
                t->v = a;
        if (!a || strmap_put(&t->index, c->name, c) < 0) {
                condition_free(c);
                return NULL;
        }
        t->v[t->n++] = c;
        t->all_observed = false;
        return c;
}

bool condtable_remove(CondTable *t, const char *name) {
        Condition *c = strmap_remove(&t->index, name);

        if (!c)
                return false;
        for (size_t i = 0; i < t->n; i++)
                if (t->v[i] == c) {
                        t->v[i] = t->v[--t->n];
                        break;
                }
        condition_free(c);
        return true;
}

void condtable_clear(CondTable *t) {
        for (size_t i = 0; i < t->n; i++)
                condition_free(t->v[i]);
        t->v = mfree(t->v);
        t->n = 0;
        strmap_clear(&t->index);
        t->all_observed = false;
}

bool condtable_all_observed(CondTable *t) {
        if (t->all_observed)
                return true;
        for (size_t i = 0; i < t->n; i++)
                if (t->v[i]->observed_bt == 0)
                        return false;
        t->all_observed = true;
        return true;
}

RuleState *ruletable_get(RuleTable *t, const char *name, bool create) {
        RuleState *s = strmap_get(&t->index, name), **a;

        if (s || !create)
                return s;
        s = calloc(1, sizeof(*s));
        a = s ? realloc(t->v, (t->n + 1) * sizeof(*a)) : NULL;
        if (a)
                t->v = a;
        if (!a || !(s->name = strdup(name)) || strmap_put(&t->index, s->name, s) < 0) {
                if (s)
                        free(s->name);
                free(s);
                return NULL;
        }
        t->v[t->n++] = s;
        return s;
}

void ruletable_clear(RuleTable *t) {
        for (size_t i = 0; i < t->n; i++) {
                RuleState *s = t->v[i];
                free(s->maintenance);
                free(s->maintenance_condition);
                free(s->maintenance_settle.sick_why);
                eventlog_free(&s->fired);
                free(s->last_decision);
                free(s->name);
                free(s);
        }
        t->v = mfree(t->v);
        t->n = 0;
        strmap_clear(&t->index);
}
