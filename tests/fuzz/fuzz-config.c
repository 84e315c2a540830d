/* SPDX-License-Identifier: MIT */
/* config_load() (lib/config.c, inih): medic.conf from a memfd. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int fd = -1;
        static char path[64];
        StrList errors = {};
        Config *c = NULL;

        if (fd < 0) {
                fd = memfd_create("medic.conf", 0);
                if (fd < 0)
                        abort();
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        }
        if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t) size)
                abort();
        if (config_load(path, &c, &errors) >= 0)
                config_free(c);
        else if (errors.n == 0)
                abort(); /* a refused file says why */
        strlist_clear(&errors);
        return 0;
}
