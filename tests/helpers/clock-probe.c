/* SPDX-License-Identifier: MIT */
/* What a process sees of the clocks (tests/integration/clock-steps.sh runs it under the same
 * libfaketime setup as medicd). Prints one line:
 *   PID REALTIME MONOTONIC BOOTTIME TIMER_MONOTONIC TIMER_BOOTTIME
 * the three clocks in seconds, then for a timerfd on CLOCK_MONOTONIC and one on
 * CLOCK_BOOTTIME, armed with TFD_TIMER_ABSTIME to expire 1 s from that clock's now, the time
 * the kernel says is left (about 1; -1 when arming failed), as sd-event arms its timers. */
#include <stdio.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static double secs(const struct timespec *ts) {
        return (double) ts->tv_sec + (double) ts->tv_nsec / 1e9;
}

static double clock_now(clockid_t id) {
        struct timespec ts = {};
        (void) clock_gettime(id, &ts);
        return secs(&ts);
}

static double timer_left(clockid_t id) {
        struct timespec now;
        struct itimerspec its = {}, cur = {};
        double left = -1;
        int fd = timerfd_create(id, TFD_CLOEXEC);

        if (fd < 0 || clock_gettime(id, &now) < 0)
                goto out;
        its.it_value = (struct timespec) { now.tv_sec + 1, now.tv_nsec };
        if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL) < 0 || timerfd_gettime(fd, &cur) < 0)
                goto out;
        left = secs(&cur.it_value);
out:
        if (fd >= 0)
                close(fd);
        return left;
}

int main(void) {
        printf("%ld %.3f %.3f %.3f %.3f %.3f\n", (long) getpid(), clock_now(CLOCK_REALTIME), clock_now(CLOCK_MONOTONIC),
               clock_now(CLOCK_BOOTTIME), timer_left(CLOCK_MONOTONIC), timer_left(CLOCK_BOOTTIME));
        return 0;
}
