/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* A map from a name to a pointer: open addressing, linear probing, removal by backward shift
 * (no tombstones), at most half full. Every lookup by name in medic goes through one of
 * these. The key is borrowed: it must stay valid and unchanged while the entry is in the
 * map (it is the name the value owns). An empty map ({}) is valid. Nothing here allocates
 * but put. */
typedef struct StrMapSlot {
        const char *key;         /* NULL: free */
        void *value;
        uint64_t hash;
} StrMapSlot;

typedef struct StrMap {
        StrMapSlot *slots;
        size_t cap;              /* 0 or a power of two */
        size_t n;
} StrMap;

uint64_t strmap_hash(const char *key);
void *strmap_get(const StrMap *m, const char *key);
/* Adds the entry or replaces the value of the key. 0, or -ENOMEM (the map is unchanged). */
int strmap_put(StrMap *m, const char *key, void *value);
/* Returns the value removed, NULL when the key was not there. */
void *strmap_remove(StrMap *m, const char *key);
/* Frees the slots (not the keys nor the values). */
void strmap_clear(StrMap *m);
