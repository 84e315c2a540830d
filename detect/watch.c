/* SPDX-License-Identifier: MIT */
/* Watching a file path through inotify on its directory. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "log.h"
#include "watch.h"

struct PathWatch {
        sd_event *event;
        char *path, *dir, *name;
        sd_event_source *source;  /* NULL while the directory cannot be watched */
        path_changed_t cb;
        void *userdata;
};

#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | \
                    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static int on_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        PathWatch *w = userdata;

        if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_Q_OVERFLOW)) {
                /* The directory went (armed again later) or events were lost: look again. */
                if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
                        w->source = sd_event_source_disable_unref(w->source);
                w->cb(w->path, w->userdata);
        } else if (ev->len > 0 && strcmp(ev->name, w->name) == 0)
                w->cb(w->path, w->userdata);
        return 0;
}

void pathwatch_arm(PathWatch *w) {
        int r;

        if (!w || w->source)
                return;
        r = sd_event_add_inotify(w->event, &w->source, w->dir, WATCH_MASK, on_inotify, w);
        if (r < 0) {
                w->source = NULL;
                /* A missing directory is the ordinary case (/run/medic before anything made it). */
                if (r != -ENOENT && r != -ENOTDIR)
                        log_full_errno(LOG_DEBUG, r, "Cannot watch %s (polling %s instead): %m", w->dir, w->path);
                return;
        }
        (void) sd_event_source_set_description(w->source, "path-watch");
}

int pathwatch_new(sd_event *e, const char *path, path_changed_t cb, void *userdata, PathWatch **ret) {
        const char *slash;
        PathWatch *w;

        if (!e || !path || path[0] != '/' || !cb)
                return -EINVAL;
        slash = strrchr(path, '/');
        if (slash[1] == '\0')
                return -EINVAL;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->event = e;
        w->cb = cb;
        w->userdata = userdata;
        w->path = strdup(path);
        w->dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        w->name = strdup(slash + 1);
        if (!w->path || !w->dir || !w->name) {
                pathwatch_free(w);
                return -ENOMEM;
        }
        pathwatch_arm(w);
        *ret = w;
        return 0;
}

PathWatch *pathwatch_free(PathWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        free(w->path);
        free(w->dir);
        free(w->name);
        free(w);
        return NULL;
}
