/*
 * rcache_bench.c - microbenchmark of UCX's registration cache (ucs_rcache),
 * as a point of comparison for memreg's JMH HitBenchmark.
 *
 * Written against UCX 1.13.1 (Debian 12: libucx-dev). Only the public
 * header <ucs/memory/rcache.h> is used.
 *
 * What is measured
 *   hit : ucs_rcache_get() + ucs_rcache_region_put() on a buffer that is
 *         already in the cache; each thread cycles through the same N buffers
 *         in a fixed pseudo-random order (thread t starts at offset t*N/T).
 *   miss: ucs_rcache_get() + ucs_rcache_region_put() on a range that is not
 *         in the cache, with the cache bounded by params.max_regions so every
 *         get also evicts the least recently used region (steady state
 *         "register + deregister" through the cache machinery).
 *
 * Registration is a no-op (mem_reg returns UCS_OK without pinning anything)
 * so the numbers are the cost of the cache itself (locks, page-table lookup,
 * refcounting, LRU), not of the kernel / NIC.
 *
 * ucm_events = 0: we ask UCM (UCX's memory-hook library) for no events, so
 * no mmap/munmap/malloc hook is installed and no hook callback can run in or
 * around the measured path; this isolates the cache data structure. Checked
 * against the 1.13.1 binaries (see README and --check-hooks):
 *   - ucm_events = 0 is accepted. ucs_rcache_create() still calls
 *     ucm_set_event_handler(0, ...); libucm 1.13.1 special-cases events == 0:
 *     it adds a handler that matches no event and installs no hook, and it
 *     skips the UCX_MEM_EVENTS check (UCX_MEM_EVENTS=no: ucm_events = 0 still
 *     works, UCM_EVENT_VM_UNMAPPED makes ucs_rcache_create() fail with
 *     "Unsupported operation").
 *   - as a consequence, munmap() of a cached range does NOT invalidate it:
 *     a later get on the same address is a (stale) hit. That is fine here,
 *     since buffers are freed only after the cache is destroyed; a real user
 *     with ucm_events = 0 must invalidate regions itself.
 *   - independent of ucm_events, creating the first rcache registers an fd
 *     handler with UCX's async thread (used to clean up regions invalidated
 *     by hooks); that thread sleeps in epoll and is not on the measured path.
 *
 * Output: one machine-readable line per case, e.g.
 *   ucx_rcache buffers=1 size=65536 threads=1 ns_per_op=23.4 ops=123456789 ...
 *   ucx_rcache_miss buffers=... size=65536 threads=1 ns_per_op=... ops=...
 * ns_per_op is the mean over threads of (measured time / ops of that thread),
 * i.e. the latency of one get+put pair as seen by one thread - the same
 * quantity JMH's AverageTime mode reports for a multi-threaded benchmark.
 */
#define _GNU_SOURCE
#include <ucs/memory/rcache.h>
#include <ucs/type/status.h>
#include <ucm/api/ucm.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PROT_RW     (PROT_READ | PROT_WRITE)
#define CHUNK       64      /* ops between two looks at the phase flag */
#define MISS_LRU    256     /* max_regions of the cache used for misses */
#define MISS_SLOTS  1024    /* distinct ranges each thread cycles through */

enum { PHASE_WARMUP = 0, PHASE_MEASURE = 1, PHASE_STOP = 2 };

/* --- no-op registration callbacks ------------------------------------- */

typedef struct {
    unsigned long regs;    /* mem_reg calls   */
    unsigned long deregs;  /* mem_dereg calls */
} reg_counters_t;

static ucs_status_t noop_mem_reg(void *context, ucs_rcache_t *rcache,
                                 void *arg, ucs_rcache_region_t *region,
                                 uint16_t flags)
{
    reg_counters_t *c = context;
    (void)rcache; (void)arg; (void)region; (void)flags;
    __atomic_fetch_add(&c->regs, 1, __ATOMIC_RELAXED);
    return UCS_OK;          /* nothing pinned, nothing to store */
}

static void noop_mem_dereg(void *context, ucs_rcache_t *rcache,
                           ucs_rcache_region_t *region)
{
    reg_counters_t *c = context;
    (void)rcache; (void)region;
    __atomic_fetch_add(&c->deregs, 1, __ATOMIC_RELAXED);
}

static void noop_dump_region(void *context, ucs_rcache_t *rcache,
                             ucs_rcache_region_t *region, char *buf, size_t max)
{
    (void)context; (void)rcache; (void)region;
    snprintf(buf, max, "noop");
}

static const ucs_rcache_ops_t noop_ops = {
    .mem_reg     = noop_mem_reg,
    .mem_dereg   = noop_mem_dereg,
    .dump_region = noop_dump_region,
};

static ucs_rcache_t *make_rcache(reg_counters_t *ctr, int ucm_events,
                                 unsigned long max_regions, const char *name)
{
    ucs_rcache_params_t p;
    ucs_rcache_t *rc;
    ucs_status_t st;

    memset(&p, 0, sizeof(p));
    p.region_struct_size = sizeof(ucs_rcache_region_t); /* no private data */
    p.alignment          = UCS_RCACHE_MIN_ALIGNMENT;
    p.max_alignment      = (size_t)sysconf(_SC_PAGESIZE);
    p.ucm_events         = ucm_events;  /* 0: no memory hooks, see header */
    p.ucm_event_priority = 1000;
    p.ops                = &noop_ops;
    p.context            = ctr;
    /* flags = 0, not UCS_RCACHE_FLAG_NO_PFN_CHECK: in 1.13 LRU eviction is
     * only done when that flag is clear. PFN checking itself is governed by
     * UCX_RCACHE_CHECK_PFN, default 0 (off). */
    p.flags              = 0;
    p.max_regions        = max_regions;
    p.max_size           = SIZE_MAX;
    p.max_unreleased     = SIZE_MAX;

    st = ucs_rcache_create(&p, name, NULL, &rc);
    if (st != UCS_OK) {
        fprintf(stderr, "ucs_rcache_create(%s) failed: %s\n", name,
                ucs_status_string(st));
        exit(2);
    }
    return rc;
}

/* --- timing / threads ------------------------------------------------- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int phase;  /* accessed with __atomic */

typedef struct {
    ucs_rcache_t  *rc;
    void         **order;     /* addresses to get, in cycling order */
    size_t         n;         /* length of order[] */
    size_t         start;     /* first index for this thread */
    size_t         len;       /* bytes per get */
    pthread_barrier_t *bar;
    /* results */
    unsigned long  ops_all;   /* including warmup */
    unsigned long  ops;       /* measured */
    double         ns;        /* measured */
    int            failed;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    ucs_rcache_t *rc = w->rc;
    void **order = w->order;
    size_t n = w->n, pos = w->start, len = w->len;
    unsigned long ops = 0, ops_m0 = 0;
    double t0 = 0, t1 = 0;
    int seen = PHASE_WARMUP;

    pthread_barrier_wait(w->bar);
    for (;;) {
        for (int i = 0; i < CHUNK; i++) {
            ucs_rcache_region_t *r;
            ucs_status_t st = ucs_rcache_get(rc, order[pos], len, PROT_RW,
                                             NULL, &r);
            if (st != UCS_OK) {
                w->failed = 1;
                goto out;
            }
            ucs_rcache_region_put(rc, r);
            if (++pos == n) {
                pos = 0;
            }
        }
        ops += CHUNK;
        int ph = __atomic_load_n(&phase, __ATOMIC_RELAXED);
        if (ph != seen) {
            if (seen == PHASE_WARMUP) {        /* warmup -> measure (or stop) */
                t0 = now_ns();
                ops_m0 = ops;
                seen = PHASE_MEASURE;
            }
            if (ph == PHASE_STOP) {
                t1 = now_ns();
                break;
            }
        }
    }
out:
    w->ops_all = ops;
    w->ops     = ops - ops_m0;
    w->ns      = t1 - t0;
    return NULL;
}

/* runs T workers over order[] (one shared cycle, or one per thread) */
static void run_threads(worker_t *ws, int threads, double warmup_s,
                        double seconds)
{
    pthread_t tid[threads];
    pthread_barrier_t bar;

    pthread_barrier_init(&bar, NULL, threads + 1);
    __atomic_store_n(&phase, PHASE_WARMUP, __ATOMIC_RELAXED);
    for (int t = 0; t < threads; t++) {
        ws[t].bar = &bar;
        if (pthread_create(&tid[t], NULL, worker, &ws[t]) != 0) {
            perror("pthread_create");
            exit(2);
        }
    }
    pthread_barrier_wait(&bar);
    if (warmup_s > 0) {
        usleep((useconds_t)(warmup_s * 1e6));
    }
    __atomic_store_n(&phase, PHASE_MEASURE, __ATOMIC_RELAXED);
    usleep((useconds_t)(seconds * 1e6));
    __atomic_store_n(&phase, PHASE_STOP, __ATOMIC_RELAXED);
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
    }
    pthread_barrier_destroy(&bar);
    for (int t = 0; t < threads; t++) {
        if (ws[t].failed) {
            fprintf(stderr, "ucs_rcache_get failed in thread %d\n", t);
            exit(3);
        }
    }
}

static void report(const char *tag, size_t buffers, size_t size, int threads,
                   worker_t *ws, const reg_counters_t *delta)
{
    double sum_ns_per_op = 0, sum_rate = 0;
    unsigned long ops = 0;

    for (int t = 0; t < threads; t++) {
        sum_ns_per_op += ws[t].ns / (double)ws[t].ops;
        sum_rate      += ws[t].ops / (ws[t].ns * 1e-9);
        ops           += ws[t].ops;
    }
    printf("%s buffers=%zu size=%zu threads=%d ns_per_op=%.1f ops=%lu "
           "mops_per_s=%.2f mem_reg=%lu mem_dereg=%lu per_thread_ns=",
           tag, buffers, size, threads, sum_ns_per_op / threads, ops,
           sum_rate / 1e6, delta->regs, delta->deregs);
    for (int t = 0; t < threads; t++) {
        printf("%s%.1f", t ? "," : "", ws[t].ns / (double)ws[t].ops);
    }
    printf("\n");
    fflush(stdout);
}

/* --- the cases -------------------------------------------------------- */

/* fixed xorshift64 so the order is the same on every run */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void bench_hit(size_t nbuf, size_t size, int threads, double warmup_s,
                      double seconds)
{
    long page = sysconf(_SC_PAGESIZE);
    reg_counters_t ctr = {0, 0};
    void **bufs  = calloc(nbuf, sizeof(*bufs));
    void **order = calloc(nbuf, sizeof(*order));
    worker_t ws[threads];
    ucs_rcache_t *rc;

    for (size_t i = 0; i < nbuf; i++) {
        int err = posix_memalign(&bufs[i], page, size);
        if (err) {
            fprintf(stderr, "posix_memalign: %s\n", strerror(err));
            exit(2);
        }
        memset(bufs[i], 0, size);
    }

    /* fixed pseudo-random permutation (Fisher-Yates) */
    rng_state = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < nbuf; i++) {
        order[i] = bufs[i];
    }
    for (size_t i = nbuf - 1; i > 0; i--) {
        size_t j = rng_next() % (i + 1);
        void *tmp = order[i]; order[i] = order[j]; order[j] = tmp;
    }

    rc = make_rcache(&ctr, 0, ULONG_MAX, "bench_hit");

    /* warm: one miss per buffer, then the region stays in the page table */
    for (size_t i = 0; i < nbuf; i++) {
        ucs_rcache_region_t *r;
        if (ucs_rcache_get(rc, bufs[i], size, PROT_RW, NULL, &r) != UCS_OK) {
            fprintf(stderr, "warm-up get failed\n");
            exit(3);
        }
        ucs_rcache_region_put(rc, r);
    }
    if (ctr.regs != nbuf) {
        fprintf(stderr, "expected %zu registrations after warm-up, got %lu\n",
                nbuf, ctr.regs);
        exit(3);
    }

    reg_counters_t before = ctr;
    memset(ws, 0, sizeof(ws));
    for (int t = 0; t < threads; t++) {
        ws[t].rc    = rc;
        ws[t].order = order;
        ws[t].n     = nbuf;
        ws[t].start = (size_t)t * nbuf / threads;
        ws[t].len   = size;
    }
    run_threads(ws, threads, warmup_s, seconds);

    reg_counters_t delta = { ctr.regs - before.regs,
                             ctr.deregs - before.deregs };
    if (delta.regs != 0 || delta.deregs != 0) {
        fprintf(stderr, "hit run registered/deregistered (%lu/%lu): "
                "not a pure hit path\n", delta.regs, delta.deregs);
        exit(3);
    }
    report("ucx_rcache", nbuf, size, threads, ws, &delta);

    ucs_rcache_destroy(rc);
    for (size_t i = 0; i < nbuf; i++) {
        free(bufs[i]);
    }
    free(bufs);
    free(order);
}

static void bench_miss(size_t size, int threads, double warmup_s,
                       double seconds)
{
    long page     = sysconf(_SC_PAGESIZE);
    size_t stride = ((size + page - 1) / page + 1) * page; /* one-page gap */
    size_t arena  = stride * MISS_SLOTS;
    reg_counters_t ctr = {0, 0};
    worker_t ws[threads];
    void *base[threads];
    ucs_rcache_t *rc;

    /* MISS_SLOTS distinct ranges per thread, virtual only (never touched:
     * registration is a no-op and PFN checking is off) */
    rc = make_rcache(&ctr, 0, MISS_LRU, "bench_miss");
    memset(ws, 0, sizeof(ws));
    for (int t = 0; t < threads; t++) {
        base[t] = mmap(NULL, arena, PROT_RW,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (base[t] == MAP_FAILED) {
            perror("mmap");
            exit(2);
        }
        ws[t].order = calloc(MISS_SLOTS, sizeof(void *));
        for (size_t i = 0; i < MISS_SLOTS; i++) {
            ws[t].order[i] = (char *)base[t] + i * stride;
        }
        ws[t].rc    = rc;
        ws[t].n     = MISS_SLOTS;
        ws[t].start = 0;
        ws[t].len   = size;
    }

    /* each thread walks its slots in order: a slot comes back only after
     * MISS_SLOTS-1 other inserts, and the LRU holds MISS_LRU < MISS_SLOTS
     * regions, so every get misses (checked below: mem_reg == ops). */
    run_threads(ws, threads, warmup_s, seconds);

    unsigned long ops_all = 0;
    for (int t = 0; t < threads; t++) {
        ops_all += ws[t].ops_all;
    }
    reg_counters_t delta = ctr;
    if (delta.regs != ops_all) {
        fprintf(stderr, "miss run: %lu gets but %lu registrations: "
                "some gets hit\n", ops_all, delta.regs);
        exit(3);
    }
    report("ucx_rcache_miss", MISS_SLOTS, size, threads, ws, &delta);

    ucs_rcache_destroy(rc);
    for (int t = 0; t < threads; t++) {
        munmap(base[t], arena);
        free(ws[t].order);
    }
}

/* What does ucm_events do for munmap()? Cache a range, munmap it, get it
 * again: with hooks the region is invalidated (mem_dereg, then a new
 * mem_reg); without, the stale region is returned as a hit. */
static void check_hooks(int ucm_events)
{
    size_t len = 1 << 16;
    reg_counters_t ctr = {0, 0};
    ucs_rcache_t *rc = make_rcache(&ctr, ucm_events, ULONG_MAX, "check_hooks");
    ucs_rcache_region_t *r;
    void *p;

    p = mmap(NULL, len, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    ucs_rcache_get(rc, p, len, PROT_RW, NULL, &r);
    ucs_rcache_region_put(rc, r);
    munmap(p, len);
    void *q = mmap(p, len, PROT_RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                   -1, 0);
    if (q != p) {
        perror("mmap fixed");
        exit(2);
    }
    ucs_rcache_get(rc, q, len, PROT_RW, NULL, &r);
    ucs_rcache_region_put(rc, r);
    printf("ucx_rcache_hooks ucm_events=0x%x munmap_invalidates=%s "
           "mem_reg=%lu mem_dereg=%lu\n", ucm_events,
           ctr.deregs > 0 ? "yes" : "no", ctr.regs, ctr.deregs);
    ucs_rcache_destroy(rc);
    munmap(q, len);
}

/* --- main ------------------------------------------------------------- */

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--buffers N] [--size S] [--threads T] [--seconds D]\n"
            "          [--warmup W] [--miss] [--check-hooks]\n"
            "  default: hit case, N=1 S=65536 T=1 D=3 W=0.5\n"
            "  --miss        measure the miss path instead (N is ignored)\n"
            "  --check-hooks show whether munmap() invalidates a cached\n"
            "                region with ucm_events=0 and =VM_UNMAPPED\n",
            argv0);
}

int main(int argc, char **argv)
{
    size_t nbuf = 1, size = 65536;
    int threads = 1, miss = 0, hooks = 0;
    double seconds = 3, warmup = 0.5;
    static const struct option opts[] = {
        {"buffers", required_argument, 0, 'n'},
        {"size",    required_argument, 0, 's'},
        {"threads", required_argument, 0, 't'},
        {"seconds", required_argument, 0, 'd'},
        {"warmup",  required_argument, 0, 'w'},
        {"miss",        no_argument,   0, 'm'},
        {"check-hooks", no_argument,   0, 'k'},
        {"help",        no_argument,   0, 'h'},
        {0, 0, 0, 0}
    };
    int c;

    while ((c = getopt_long(argc, argv, "n:s:t:d:w:mkh", opts, NULL)) != -1) {
        switch (c) {
        case 'n': nbuf    = strtoul(optarg, NULL, 0); break;
        case 's': size    = strtoul(optarg, NULL, 0); break;
        case 't': threads = atoi(optarg);             break;
        case 'd': seconds = atof(optarg);             break;
        case 'w': warmup  = atof(optarg);             break;
        case 'm': miss    = 1;                        break;
        case 'k': hooks   = 1;                        break;
        case 'h': usage(argv[0]); return 0;
        default:  usage(argv[0]); return 1;
        }
    }
    if (nbuf < 1 || size < 1 || threads < 1 || threads > 256 || seconds <= 0
        || warmup < 0) {
        usage(argv[0]);
        return 1;
    }

    if (hooks) {
        check_hooks(0);
        check_hooks(UCM_EVENT_VM_UNMAPPED);
    } else if (miss) {
        bench_miss(size, threads, warmup, seconds);
    } else {
        bench_hit(nbuf, size, threads, warmup, seconds);
    }
    return 0;
}
