/* SPDX-License-Identifier: MIT */
#pragma once

#include "util.h"

/* Refuses a Lua file unless it and the directory holding it are owned by root and not
 * writable by group or others (like sudo and keepalived do for their scripts). Returns 0, or
 * -EPERM with *ret_reason set to a malloc'ed explanation ("owned by uid 1000, must be root"),
 * or another negative errno when stat failed. */
int trust_verify_file(const char *path, char **ret_reason);
