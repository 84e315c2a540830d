/* SPDX-License-Identifier: MIT */
/* A tiny program the exec tests run as a child:
 *   exec-probe exit N                  prints "stdout-N" / "stderr-N", exits N
 *   exec-probe sleep SECS [PIDFILE]    writes its pid to PIDFILE (if given), sleeps
 *   exec-probe ignore-term SECS        ignores SIGTERM, prints "ready", sleeps
 *   exec-probe grandchild FILE MODE    forks a grandchild that ignores SIGTERM and sleeps 60 s;
 *                                      writes "CHILDPID GRANDCHILDPID" to FILE; then MODE
 *                                      "exit" exits 0, "sleep" sleeps 60 s
 *   exec-probe spew BYTES              writes BYTES bytes of 'x' to stdout
 *   exec-probe env                     prints its environment, one entry a line
 *   exec-probe stdin                   copies stdin to stdout
 *   exec-probe info                    prints how it was started (group, cwd, fds, signals) */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Written to a temporary name and renamed, so that a reader never sees half of it. */
static int write_marker(const char *path, const char *text) {
        char tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int) getpid());
        f = fopen(tmp, "we");
        if (!f)
                return -1;
        fputs(text, f);
        if (fclose(f) != 0)
                return -1;
        return rename(tmp, path);
}

static void sleep_secs(double secs) {
        struct timespec ts = { (time_t) secs, (long) ((secs - (double) (time_t) secs) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static void print_status_line(const char *key) {
        char line[256];
        FILE *f = fopen("/proc/self/status", "re");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0)
                        fputs(line, stdout);
        fclose(f);
}

static int info(void) {
        char cwd[4096], link[4096];
        int extra = 0;
        DIR *d;
        struct dirent *de;
        ssize_t n;

        printf("pgid_is_pid=%d\n", getpgrp() == getpid());
        printf("cwd=%s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?");
        n = readlink("/proc/self/fd/0", link, sizeof(link) - 1);
        link[n < 0 ? 0 : n] = '\0';
        printf("stdin=%s\n", link);
        d = opendir("/proc/self/fd");
        if (!d)
                return 1;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' && atoi(de->d_name) > 2 && atoi(de->d_name) != dirfd(d))
                        extra++;
        closedir(d);
        printf("extra_fds=%d\n", extra);
        fflush(stdout);
        print_status_line("SigBlk:");
        print_status_line("SigIgn:");
        return 0;
}

int main(int argc, char **argv) {
        const char *mode = argc > 1 ? argv[1] : "";

        if (strcmp(mode, "exit") == 0 && argc > 2) {
                printf("stdout-%s\n", argv[2]);
                fprintf(stderr, "stderr-%s\n", argv[2]);
                return atoi(argv[2]);
        }
        if (strcmp(mode, "sleep") == 0 && argc > 2) {
                if (argc > 3) {
                        char buf[32];
                        snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
                        if (write_marker(argv[3], buf) < 0)
                                return 2;
                }
                sleep_secs(atof(argv[2]));
                return 0;
        }
        if (strcmp(mode, "ignore-term") == 0 && argc > 2) {
                signal(SIGTERM, SIG_IGN);
                puts("ready");
                fflush(stdout);
                sleep_secs(atof(argv[2]));
                return 0;
        }
        if (strcmp(mode, "grandchild") == 0 && argc > 3) {
                int p[2];
                char buf[64], c;
                pid_t pid;

                if (pipe(p) < 0)
                        return 2;
                pid = fork();
                if (pid < 0)
                        return 2;
                if (pid == 0) {
                        signal(SIGTERM, SIG_IGN);
                        (void) !write(p[1], "x", 1);
                        close(p[1]);
                        sleep_secs(60);
                        _exit(0);
                }
                close(p[1]);
                if (read(p[0], &c, 1) != 1) /* the grandchild ignores SIGTERM from here on */
                        return 2;
                snprintf(buf, sizeof(buf), "%d %d\n", (int) getpid(), (int) pid);
                if (write_marker(argv[2], buf) < 0)
                        return 2;
                if (strcmp(argv[3], "sleep") == 0)
                        sleep_secs(60);
                return 0;
        }
        if (strcmp(mode, "spew") == 0 && argc > 2) {
                static char block[8192];
                long left = atol(argv[2]);

                memset(block, 'x', sizeof(block));
                while (left > 0) {
                        size_t n = left < (long) sizeof(block) ? (size_t) left : sizeof(block);
                        if (write_all(1, block, n) < 0)
                                return 2;
                        left -= (long) n;
                }
                return 0;
        }
        if (strcmp(mode, "env") == 0) {
                for (char **e = environ; e && *e; e++)
                        puts(*e);
                return 0;
        }
        if (strcmp(mode, "stdin") == 0) {
                char buf[8192];
                ssize_t k;

                while ((k = read(0, buf, sizeof(buf))) != 0) {
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                return 2;
                        }
                        if (write_all(1, buf, (size_t) k) < 0)
                                return 2;
                }
                return 0;
        }
        if (strcmp(mode, "info") == 0)
                return info();

        fprintf(stderr, "usage: exec-probe exit N | sleep SECS [PIDFILE] | ignore-term SECS | "
                        "grandchild FILE exit|sleep | spew BYTES | env | stdin | info\n");
        return 64;
}
