/* SPDX-License-Identifier: MIT */
#pragma once

#include <systemd/sd-event.h>

/* Watching one file path for changes: an inotify watch (sd_event_add_inotify) on its directory,
 * matching events by the file's name. The callback runs when the file is created, written
 * (closed after writing), moved in or out, changes attributes or is removed, and when the
 * directory itself goes or events were lost (look again). A directory that does not exist (yet)
 * is not an error: pathwatch_arm() tries again, the caller's poll covering the file meanwhile. */

typedef struct PathWatch PathWatch;
typedef void (*path_changed_t)(const char *path, void *userdata);

/* path must be absolute. Returns 0 (watching, or waiting for the directory) or a negative errno. */
int pathwatch_new(sd_event *e, const char *path, path_changed_t cb, void *userdata, PathWatch **ret);
/* Watches the directory if it is not watched yet and exists now; cheap when it is. */
void pathwatch_arm(PathWatch *w);
PathWatch *pathwatch_free(PathWatch *w);
