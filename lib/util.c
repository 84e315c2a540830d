/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "killpoint.h"
#include "util.h"

int strlist_add(StrList *l, const char *s) {
        char **v, *c;

        c = strdup(s);
        if (!c)
                return -ENOMEM;
        v = realloc(l->v, (l->n + 2) * sizeof(char *));
        if (!v) {
                free(c);
                return -ENOMEM;
        }
        v[l->n++] = c;
        v[l->n] = NULL;
        l->v = v;
        return 0;
}

int strlist_addf(StrList *l, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                s = NULL;
                return -ENOMEM;
        }
        return strlist_add(l, s);
}

void strlist_clear(StrList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

bool strlist_remove(StrList *l, const char *s) {
        size_t j = 0;
        bool found = false;

        if (!l || !s)
                return false;
        for (size_t i = 0; i < l->n; i++) {
                if (strcmp(l->v[i], s) == 0) {
                        free(l->v[i]);
                        found = true;
                } else
                        l->v[j++] = l->v[i];
        }
        l->n = j;
        if (l->v)
                l->v[j] = NULL;
        return found;
}

bool strlist_contains(const StrList *l, const char *s) {
        if (!l || !s)
                return false;
        for (size_t i = 0; i < l->n; i++)
                if (strcmp(l->v[i], s) == 0)
                        return true;
        return false;
}

static clock_source_t clock_source = NULL;

void clock_set_source(clock_source_t fn) {
        clock_source = fn;
}

uint64_t now_clock_real(clockid_t id) {
        struct timespec ts;

        if (clock_gettime(id, &ts) < 0)
                return 0;
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static uint64_t now_clock(clockid_t id) {
        return clock_source ? clock_source(id) : now_clock_real(id);
}

uint64_t now_monotonic(void) {
        return now_clock(CLOCK_MONOTONIC);
}

uint64_t now_realtime(void) {
        return now_clock(CLOCK_REALTIME);
}

uint64_t now_boottime(void) {
        return now_clock(CLOCK_BOOTTIME);
}

bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

char *strdup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

char *strprintf(const char *fmt, ...) {
        char *s;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : s;
}

static int write_all(int fd, const void *data, size_t size) {
        const char *p = data;

        while (size > 0) {
                ssize_t k = write(fd, p, size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                size -= (size_t) k;
        }
        return 0;
}

/* Splits path into its directory ("." when there is no slash) and base name. */
static int split_path(const char *path, char **ret_dir, const char **ret_base) {
        const char *slash = strrchr(path, '/');
        char *dir;

        if (!slash)
                dir = strdup(".");
        else if (slash == path)
                dir = strdup("/");
        else
                dir = strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;
        *ret_dir = dir;
        *ret_base = slash ? slash + 1 : path;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_free_ char *dir = NULL, *tmp = NULL;
        const char *base;
        int fd, dfd, r;

        if (!path || !*path || path[strlen(path) - 1] == '/')
                return -EINVAL;
        r = split_path(path, &dir, &base);
        if (r < 0)
                return r;
        tmp = strprintf("%s/.%s.XXXXXX", dir, base);
        if (!tmp)
                return -ENOMEM;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        KILLPOINT_AT("write-temp-created", path);

        r = write_all(fd, data, size);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0)
                KILLPOINT_AT("write-before-rename", path);
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        KILLPOINT_AT("write-after-rename", path);

        /* Make the rename itself durable. */
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = fsync(dfd) < 0 ? -errno : 0;
        (void) close(dfd);
        return r;
}

int atomic_temps_remove(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        int n = 0;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                const char *dot = strrchr(de->d_name, '.');
                /* ".NAME.XXXXXX": a leading dot, a name, a dot and mkostemp()'s six characters. */
                if (de->d_name[0] != '.' || !dot || dot - de->d_name < 2 || strlen(dot + 1) != 6)
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0)
                        n++;
        }
        closedir(d);
        return n;
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t n = 0, cap;
        struct stat st;
        int fd, r = 0;

        if (max > SIZE_MAX - 2)
                max = SIZE_MAX - 2;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto finish;
        }
        if (S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                goto finish;
        }
        if (!S_ISREG(st.st_mode)) {
                r = -EINVAL;
                goto finish;
        }
        if ((uint64_t) st.st_size > max) {
                r = -EFBIG;
                goto finish;
        }

        /* st_size may be 0 or stale (procfs, a file being written): read until EOF, but never
         * more than max bytes. */
        cap = (size_t) st.st_size + 1;
        if (cap < 4096)
                cap = max < 4096 ? max + 1 : 4096;
        buf = malloc(cap + 1);
        if (!buf) {
                r = -ENOMEM;
                goto finish;
        }
        for (;;) {
                ssize_t k;

                if (n == cap) {
                        size_t ncap;
                        char *nbuf;

                        if (n > max) {
                                r = -EFBIG;
                                goto finish;
                        }
                        ncap = cap > SIZE_MAX / 2 - 1 ? SIZE_MAX - 1 : cap * 2;
                        if (ncap > max + 1)
                                ncap = max + 1;
                        nbuf = realloc(buf, ncap + 1);
                        if (!nbuf) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        buf = nbuf;
                        cap = ncap;
                }
                k = read(fd, buf + n, cap - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto finish;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
        }
        if (n > max) {
                r = -EFBIG;
                goto finish;
        }
        buf[n] = '\0';

        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = n;
finish:
        (void) close(fd);
        return r;
}

int read_word(const char *path, size_t max, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t start, len;
        char *word;
        int r;

        r = read_file(path, max, &buf, NULL);
        if (r < 0)
                return r;
        start = strspn(buf, " \t\r\n");
        len = strcspn(buf + start, " \t\r\n");
        if (len == 0)
                return -ENODATA;
        word = strndup(buf + start, len);
        if (!word)
                return -ENOMEM;
        *ret = word;
        return 0;
}

static int mkdir_one(const char *path, mode_t mode) {
        struct stat st;

        if (mkdir(path, mode) >= 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = NULL;
        int r;

        if (!path || !*path)
                return -EINVAL;
        p = strdup(path);
        if (!p)
                return -ENOMEM;

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                if (s[-1] == '/')   /* "a//b" */
                        continue;
                *s = '\0';
                r = mkdir_one(p, mode);
                *s = '/';
                if (r < 0)
                        return r;
        }
        return mkdir_one(p, mode);
}

char *boot_id_read(const char *path) {
        char *id = NULL;

        return read_word(path, 256, &id) < 0 ? NULL : id;
}

char *str_excerpt(const char *s, size_t max) {
        size_t n = strlen(s);
        bool cut = n > max;
        char *out;

        if (cut) {
                n = max;
                while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
                        n--;
        }
        out = malloc(n + 4);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++)
                out[i] = (unsigned char) s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
        strcpy(out + n, cut ? "..." : "");
        return out;
}
