/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

#include "act.h"
#include "config.h"
#include "lua-decl.h"

typedef struct Remedy Remedy;

/* Called once from the event loop when the remedy finished. */
typedef void (*remedy_done_t)(bool success, const char *detail, void *userdata);

/* Starts rule d's remedy: a command, a systemd unit job over D-Bus, or a Lua function (with
 * h->record set: only recorded, see act.h). condition names the condition that triggered it
 * (exported to commands as MEDIC_CONDITION). */
int remedy_start(const ActHost *h, const RuleDecl *d, const char *condition, remedy_done_t done,
                 void *userdata, Remedy **ret);
/* Stops waiting for it (a command's process group is killed); no callback: returns the
 * userdata done would have got (NULL for NULL), the caller's to free. */
void *remedy_cancel(Remedy *r);
