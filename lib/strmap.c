/* SPDX-License-Identifier: MIT */
/* Name → pointer maps (see strmap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

/* FNV-1a, 64 bits: short names, no adversary that chooses them (they come from root-owned
 * Lua files). */
uint64_t strmap_hash(const char *key) {
        uint64_t h = UINT64_C(14695981039346656037);

        for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
                h ^= *p;
                h *= UINT64_C(1099511628211);
        }
        return h;
}

static size_t find_slot(const StrMap *m, const char *key, uint64_t h) {
        size_t mask = m->cap - 1;

        for (size_t i = h & mask;; i = (i + 1) & mask) {
                const StrMapSlot *s = &m->slots[i];
                if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
                        return i;
        }
}

void *strmap_get(const StrMap *m, const char *key) {
        if (!m->cap || !key)
                return NULL;
        const StrMapSlot *s = &m->slots[find_slot(m, key, strmap_hash(key))];
        return s->key ? s->value : NULL;
}

static int grow(StrMap *m) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        StrMapSlot *slots = calloc(cap, sizeof(*slots)), *old = m->slots;
        size_t old_cap = m->cap;

        if (!slots)
                return -ENOMEM;
        m->slots = slots;
        m->cap = cap;
        for (size_t i = 0; i < old_cap; i++)
                if (old[i].key)
                        m->slots[find_slot(m, old[i].key, old[i].hash)] = old[i];
        free(old);
        return 0;
}

int strmap_put(StrMap *m, const char *key, void *value) {
        uint64_t h = strmap_hash(key);
        size_t i;

        if ((m->n + 1) * 2 > m->cap) {
                int r = grow(m);
                if (r < 0)
                        return r;
        }
        i = find_slot(m, key, h);
        if (!m->slots[i].key)
                m->n++;
        m->slots[i] = (StrMapSlot) { .key = key, .value = value, .hash = h };
        return 0;
}

void *strmap_remove(StrMap *m, const char *key) {
        size_t mask = m->cap - 1, i, j;
        void *value;

        if (!m->cap || !key)
                return NULL;
        i = find_slot(m, key, strmap_hash(key));
        if (!m->slots[i].key)
                return NULL;
        value = m->slots[i].value;
        /* Backward shift: move up every later entry of the run that may take the hole. */
        for (j = (i + 1) & mask; m->slots[j].key; j = (j + 1) & mask) {
                size_t home = m->slots[j].hash & mask;
                /* The entry at j may move to i unless its home lies cyclically in (i, j]. */
                if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
                        m->slots[i] = m->slots[j];
                        i = j;
                }
        }
        m->slots[i] = (StrMapSlot) {};
        m->n--;
        return value;
}

void strmap_clear(StrMap *m) {
        free(m->slots);
        *m = (StrMap) {};
}
