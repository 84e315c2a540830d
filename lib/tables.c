/* SPDX-License-Identifier: MIT */
/* The condition table and the rule-state table (see tables.h). */
#include <stdlib.h>
#include <string.h>

#include "tables.h"
#include "util.h"

Condition *condtable_find(const CondTable *t, const char *name) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->v[i]->name, name) == 0)
                        return t->v[i];
        return NULL;
}

Condition *condtable_get(CondTable *t, const char *name) {
        Condition *c = condtable_find(t, name), **a;

        if (c)
                return c;
        c = condition_new(name);
        a = c ? realloc(t->v, (t->n + 1) * sizeof(*a)) : NULL;
        if (!a) {
                condition_free(c);
                return NULL;
        }
        t->v = a;
        t->v[t->n++] = c;
        return c;
}

bool condtable_remove(CondTable *t, const char *name) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->v[i]->name, name) == 0) {
                        condition_free(t->v[i]);
                        t->v[i] = t->v[--t->n];
                        return true;
                }
        return false;
}

void condtable_clear(CondTable *t) {
        for (size_t i = 0; i < t->n; i++)
                condition_free(t->v[i]);
        t->v = mfree(t->v);
        t->n = 0;
}

RuleState *ruletable_get(RuleTable *t, const char *name, bool create) {
        RuleState *s, **a;

        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->v[i]->name, name) == 0)
                        return t->v[i];
        if (!create)
                return NULL;
        s = calloc(1, sizeof(*s));
        a = s ? realloc(t->v, (t->n + 1) * sizeof(*a)) : NULL;
        if (!a || !(s->name = strdup(name))) {
                if (a)
                        t->v = a;
                free(s);
                return NULL;
        }
        t->v = a;
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
}
