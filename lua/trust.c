/* SPDX-License-Identifier: MIT */
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>

#include "trust.h"

static int verify_one(const char *path, const char *what, char **ret_reason) {
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        if (st.st_uid != 0) {
                *ret_reason = strprintf("%s %s is owned by uid %u, must be owned by root",
                                        what, path, (unsigned) st.st_uid);
                return -EPERM;
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
                *ret_reason = strprintf("%s %s is writable by group or others (mode %04o)",
                                        what, path, (unsigned) (st.st_mode & 07777));
                return -EPERM;
        }
        return 0;
}

int trust_verify_file(const char *path, char **ret_reason) {
        _cleanup_free_ char *copy = strdup(path);
        int r;

        if (!copy)
                return -ENOMEM;
        r = verify_one(path, "file", ret_reason);
        if (r < 0)
                return r;
        return verify_one(dirname(copy), "directory", ret_reason);
}
