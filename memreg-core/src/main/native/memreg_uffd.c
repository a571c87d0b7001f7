/*
 * memreg's userfaultfd reader: a thread that never enters Java.
 *
 * A thread that munmaps, madvises or mremaps a range registered with a userfaultfd sleeps in
 * the kernel until the reader has read the event. If that thread is not at a safepoint (a
 * critical downcall, the JVM's own code, a GC or VM thread inside a safepoint operation) and the
 * reader were a Java thread, a safepoint that began meanwhile would wait for the sleeping thread
 * while the reader, back from poll, waited for the safepoint before its read: the JVM would hang
 * (org.memreg.monitor.UserfaultfdJvmSafetyTest). So the reading happens here, on a pthread of
 * its own that takes no lock Java holds and never waits for Java.
 *
 * Before every read it raises the gate's count (a cell Java reads on every cache hit), so that a
 * woken caller cannot look up its old registration before the event is applied; it puts the
 * ranges of UNMAP, REMOVE and REMAP events into a bounded ring, marks the batch written, and
 * signals an eventfd; a Java thread drains the ring into the cache and marks the batch
 * delivered. A full ring raises an overflow flag that makes the cache treat every registration
 * as changed. Page-fault messages (never expected in write-protect mode) are answered here with
 * the zero page so that no thread waits.
 *
 * The struct below is shared with Java, which reads its offsets from memreg_uffd_layout().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define RING_SLOTS 4096u /* a power of two */
#define BATCH 64
#define STOPPED_ON_REQUEST (-1)
/*
 * poll's timeout: a poll that sleeps holds the files its descriptors named when it began, so a
 * descriptor closed or replaced meanwhile (a stray close and reopen elsewhere in the process)
 * is seen at the next turn, rather than never.
 */
#define HEARTBEAT_MS 1000

struct range_event {
    uint64_t event; /* UFFD_EVENT_UNMAP, _REMOVE or _REMAP */
    uint64_t start;
    uint64_t end;
    int64_t taken_nanos; /* CLOCK_MONOTONIC before the read: Java's System.nanoTime() */
};

struct memreg_uffd {
    /* Set by Java before the start. */
    _Atomic uint64_t *taken; /* batches about to be read: the gate's count, in memory never freed */
    int32_t uffd;
    int32_t stop_fd;   /* an eventfd Java signals to stop the reader */
    int32_t ready_fd;  /* an eventfd the reader signals after every batch */
    int32_t realtime;  /* ask for SCHED_FIFO (best effort) */
    uint64_t page_size;
    char pad0[32];
    /* Written by the reader. */
    _Atomic uint64_t written; /* batches whose ranges are all in the ring */
    _Atomic uint64_t head;
    _Atomic uint64_t overflows;
    _Atomic uint64_t page_faults;
    _Atomic uint32_t overflow;
    _Atomic int32_t stopped;  /* 0 while running, STOPPED_ON_REQUEST, or the errno that stopped it */
    char pad1[24];
    /* Written by the consumer: the Java thread that drains (the delivery thread or a waiter, one at a time). */
    _Atomic uint64_t tail;
    char pad2[56];
    pthread_t thread;
    struct range_event ring[RING_SLOTS];
};

_Static_assert(offsetof(struct memreg_uffd, written) == 64, "written on its own line");
_Static_assert(offsetof(struct memreg_uffd, tail) == 128, "tail on its own line");

static int64_t now_nanos(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

/* One producer (this thread), one consumer: a slot is written before head passes it. */
static void push(struct memreg_uffd *r, uint64_t event, uint64_t start, uint64_t end, int64_t taken)
{
    uint64_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (pos - atomic_load_explicit(&r->tail, memory_order_acquire) >= RING_SLOTS) {
        atomic_store_explicit(&r->overflow, 1, memory_order_release);
        atomic_fetch_add_explicit(&r->overflows, 1, memory_order_relaxed);
        return;
    }
    struct range_event *slot = &r->ring[pos & (RING_SLOTS - 1)];
    slot->event = event;
    slot->start = start;
    slot->end = end;
    slot->taken_nanos = taken;
    atomic_store_explicit(&r->head, pos + 1, memory_order_release);
}

static void answer_fault(struct memreg_uffd *r, uint64_t address)
{
    struct uffdio_zeropage zero = {.range = {.start = address & ~(r->page_size - 1), .len = r->page_size}};
    if (ioctl(r->uffd, UFFDIO_ZEROPAGE, &zero) != 0) {
        struct uffdio_range range = zero.range;
        ioctl(r->uffd, UFFDIO_WAKE, &range); /* resolved already, or the range is gone */
    }
    atomic_fetch_add_explicit(&r->page_faults, 1, memory_order_relaxed);
}

static void take(struct memreg_uffd *r, const struct uffd_msg *msg, int64_t taken)
{
    switch (msg->event) {
    case UFFD_EVENT_UNMAP:
    case UFFD_EVENT_REMOVE:
        push(r, msg->event, msg->arg.remove.start, msg->arg.remove.end, taken);
        break;
    case UFFD_EVENT_REMAP:
        push(r, msg->event, msg->arg.remap.from, msg->arg.remap.from + msg->arg.remap.len, taken);
        break;
    case UFFD_EVENT_PAGEFAULT:
        answer_fault(r, msg->arg.pagefault.address);
        break;
    default:
        break; /* not requested */
    }
}

/* 0, or -1 with errno; a full eventfd counter (EAGAIN) still wakes the delivery thread's poll. */
static int signal_ready(struct memreg_uffd *r)
{
    uint64_t one = 1;
    return write(r->ready_fd, &one, sizeof one) < 0 && errno != EAGAIN ? -1 : 0;
}

/*
 * Reads the stop eventfd once poll said it is ready: 0 for a stop request (the read consumes
 * it), EAGAIN for none after all, else the error. A descriptor that is no longer our eventfd
 * (closed, or another file dup2'ed over its number) must not pass for a request: the reader
 * would end silently, and unmaps of watched memory would sleep with nobody to tell.
 */
static int stop_signal(struct memreg_uffd *r)
{
    uint64_t count;
    ssize_t bytes = read(r->stop_fd, &count, sizeof count);
    if (bytes == (ssize_t) sizeof count) {
        return 0;
    }
    return bytes < 0 ? errno : EIO;
}

static void *read_loop(void *arg)
{
    struct memreg_uffd *r = arg;
    struct uffd_msg messages[BATCH];
    struct pollfd fds[2] = {{.fd = r->uffd, .events = POLLIN}, {.fd = r->stop_fd, .events = POLLIN}};
    int failed = 0;
    pthread_setname_np(pthread_self(), "memreg-uffd");
    if (r->realtime) {
        struct sched_param param = {.sched_priority = 1};
        pthread_setschedparam(pthread_self(), SCHED_FIFO, &param); /* without the privilege it stays normal */
    }
    for (;;) {
        int polled = poll(fds, 2, HEARTBEAT_MS);
        if (polled == 0) {
            continue;
        }
        if (polled < 0) {
            if (errno == EINTR) {
                continue;
            }
            failed = errno;
            break;
        }
        if (fds[1].revents != 0) {
            int error = stop_signal(r);
            if (error == EAGAIN) {
                continue; /* no signal after all */
            }
            failed = error;
            break;
        }
        if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
            failed = EIO;
            break;
        }
        if ((fds[0].revents & POLLIN) == 0) {
            continue;
        }
        /* Before the read wakes anyone; the read-modify-write is a full fence ahead of the syscall. */
        uint64_t batch = atomic_fetch_add_explicit(r->taken, 1, memory_order_seq_cst) + 1;
        int64_t taken = now_nanos();
        ssize_t bytes = read(r->uffd, messages, sizeof messages);
        int error = bytes < 0 ? errno : bytes == 0 ? EIO : 0; /* 0: not a userfaultfd any more */
        for (ssize_t i = 0; i < bytes / (ssize_t) sizeof messages[0]; i++) {
            take(r, &messages[i], taken);
        }
        atomic_store_explicit(&r->written, batch, memory_order_release);
        if (signal_ready(r) != 0) {
            failed = errno;
            break;
        }
        if (bytes < 0 && error != EAGAIN && error != EINTR) {
            failed = error;
            break;
        }
    }
    atomic_store(&r->stopped, failed != 0 ? failed : STOPPED_ON_REQUEST);
    if (failed != 0) {
        signal_ready(r); /* so that Java sees the failure */
    }
    return NULL;
}

/*
 * Starts the reader for r; 0 or the error (fcntl's errno, or pthread_create's). It starts with
 * every signal blocked: the JVM's signals are for its own threads.
 */
int memreg_uffd_start(struct memreg_uffd *r)
{
    /* Non-blocking: a read with nothing to read returns at once, so "written" always follows "taken". */
    int flags = fcntl(r->uffd, F_GETFL);
    if (flags < 0 || fcntl(r->uffd, F_SETFL, flags | O_NONBLOCK) != 0) {
        return errno;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int error = pthread_create(&r->thread, NULL, read_loop, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return error;
}

/*
 * Waits for a reader whose stop_fd was signalled (or that failed) to end, then, when asked,
 * closes the userfaultfd at once; pthread_join's result (on an error the descriptor stays open).
 * From the reader's last read to this close, a thread that unmaps watched memory sleeps in the
 * kernel, and the closing Java thread must not wait for it meanwhile: it might, were it back in
 * Java, stop at a safepoint that waits for that very thread. The close releases every sleeper.
 */
int memreg_uffd_finish(struct memreg_uffd *r, int close_uffd)
{
    int error = pthread_join(r->thread, NULL);
    if (error == 0 && close_uffd) {
        close(r->uffd); /* EINTR too has released it, on Linux */
    }
    return error;
}

/* The shared layout, for Java: field offsets, sizes and the ring's shape. */
int64_t memreg_uffd_layout(int what)
{
    switch (what) {
    case 0: return sizeof(struct memreg_uffd);
    case 1: return offsetof(struct memreg_uffd, taken);
    case 2: return offsetof(struct memreg_uffd, uffd);
    case 3: return offsetof(struct memreg_uffd, stop_fd);
    case 4: return offsetof(struct memreg_uffd, ready_fd);
    case 5: return offsetof(struct memreg_uffd, realtime);
    case 6: return offsetof(struct memreg_uffd, page_size);
    case 7: return offsetof(struct memreg_uffd, written);
    case 8: return offsetof(struct memreg_uffd, head);
    case 9: return offsetof(struct memreg_uffd, overflows);
    case 10: return offsetof(struct memreg_uffd, page_faults);
    case 11: return offsetof(struct memreg_uffd, overflow);
    case 12: return offsetof(struct memreg_uffd, stopped);
    case 13: return offsetof(struct memreg_uffd, tail);
    case 14: return offsetof(struct memreg_uffd, ring);
    case 15: return sizeof(struct range_event);
    case 16: return offsetof(struct range_event, event);
    case 17: return offsetof(struct range_event, start);
    case 18: return offsetof(struct range_event, end);
    case 19: return offsetof(struct range_event, taken_nanos);
    case 20: return RING_SLOTS;
    default: return -1;
    }
}
