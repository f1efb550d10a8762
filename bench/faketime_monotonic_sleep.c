/*
 * Preloaded before libfaketime into the soak's skewed coordinator
 * (bench/soak.py): clock_nanosleep on CLOCK_MONOTONIC goes straight to the
 * kernel. libfaketime 0.9.10 (Debian 12) rewrites an absolute monotonic
 * deadline even with FAKETIME_DONT_FAKE_MONOTONIC=1 and hands the kernel a
 * negative time, so Python 3.11's time.sleep (clock_nanosleep with
 * TIMER_ABSTIME) fails with EINVAL (libfaketime issue 426). Other clocks
 * still go through libfaketime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *req,
                    struct timespec *rem) {
    if (clock_id == CLOCK_MONOTONIC)
        return syscall(SYS_clock_nanosleep, clock_id, flags, req, rem) == -1 ? errno : 0;
    int (*next)(clockid_t, int, const struct timespec *, struct timespec *) =
        dlsym(RTLD_NEXT, "clock_nanosleep");
    return next(clock_id, flags, req, rem);
}
