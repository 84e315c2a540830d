/* SPDX-License-Identifier: MIT */
/* Preloaded before libfaketime by tests/integration/clock-steps.sh: timerfd_settime() and
 * timerfd_gettime() go straight to the kernel. libfaketime 0.9.10 moves the expiry of every
 * TFD_TIMER_ABSTIME timer by its wall-clock offset, on CLOCK_MONOTONIC and CLOCK_BOOTTIME too
 * and even with FAKETIME_DONT_FAKE_MONOTONIC=1: with the wall clock an hour behind, sd-event's
 * timers fire an hour late; an hour ahead, arming one fails with EINVAL and the event loop
 * ends. medicd arms no CLOCK_REALTIME timer, so nothing that it uses is left unfaked here. */
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

int timerfd_settime(int fd, int flags, const struct itimerspec *new_value, struct itimerspec *old_value) {
        return (int) syscall(SYS_timerfd_settime, fd, flags, new_value, old_value);
}

int timerfd_gettime(int fd, struct itimerspec *curr_value) {
        return (int) syscall(SYS_timerfd_gettime, fd, curr_value);
}
