/*
 * memreg's libucm event handler: hears of an unmap *before* it happens.
 *
 * UCM (OpenUCX's memory hooks) calls memreg_hooks_handler on whatever thread is about to
 * munmap, mremap, madvise(DONTNEED/FREE/REMOVE), brk/sbrk, shmdt or mmap(MAP_FIXED) a range
 * (UCM_EVENT_VM_UNMAPPED, dispatched before the original call). That thread may be a JVM GC or
 * VM thread at a safepoint, so the handler never calls into Java, never allocates, never blocks
 * and takes no lock: it reads a table of watched granules that Java keeps in native memory and,
 * when the range touches one, puts the range into a bounded lock-free ring and release-increments
 * a sequence. The registration cache compares that sequence with what it has applied on every
 * hit (org.memreg.monitor.HookMonitor). When the ring is full the range is not stored; an
 * overflow flag makes the cache treat every registration as suspect instead.
 *
 * The struct below is shared with Java, which reads its offsets from memreg_hooks_layout().
 */
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <ucm/api/ucm.h>

#define GRANULE_SHIFT 21                       /* 2 MiB per watch counter */
#define L2_BITS 13                             /* 8192 counters per second-level table */
#define L1_BITS (47 - GRANULE_SHIFT - L2_BITS) /* 8192 tables: 2^47 bytes of address space */
#define L1_SLOTS (1u << L1_BITS)
#define L2_SLOTS (1u << L2_BITS)
#define TABLE_LIMIT (1ull << 47)
#define RING_SLOTS 2048u                       /* a power of two */
#define PRIORITY (-1)                          /* < 0: before the original call */

struct slot {
    _Atomic uint64_t stamp; /* position + 1 once start/end are written */
    uint64_t start;
    uint64_t end;
    uint64_t pad;
};

struct memreg_hooks {
    /*
     * Read on every cache hit, written only for watched ranges. It lives outside this struct, in
     * a cache line of memory Java never frees (org.memreg.monitor.SequenceCells), so the hit reads
     * it without checking that the struct is still there.
     */
    _Atomic uint64_t *sequence;
    char pad0[56];
    /* Producers (unmapping threads). */
    _Atomic uint64_t head;
    _Atomic uint64_t overflows;
    _Atomic uint32_t overflow;
    char pad1[44];
    /* The consumer (a cache thread under the monitor's drain lock). */
    _Atomic uint64_t tail;
    char pad2[56];
    /* Every VM_UNMAPPED call, watched or not: its own line, the JVM's unmaps write it. */
    _Atomic uint64_t calls;
    char pad3[56];
    /* A range the self-check unmaps; hits on it are counted, never put into the ring. */
    _Atomic uint64_t probe_start;
    _Atomic uint64_t probe_end;
    _Atomic uint64_t probe_hits;
    /* Watches that reach above TABLE_LIMIT (not expected on 4-level page tables). */
    _Atomic uint64_t high_watches;
    char pad4[32];
    /* Watch counts per 2 MiB granule: L1 -> L2 tables of uint32 counters, written by Java. */
    _Atomic(_Atomic uint32_t *) l1[L1_SLOTS];
    struct slot ring[RING_SLOTS];
};

_Static_assert(offsetof(struct memreg_hooks, head) == 64, "head on its own line");
_Static_assert(offsetof(struct memreg_hooks, tail) == 128, "tail on its own line");
_Static_assert(offsetof(struct memreg_hooks, calls) == 192, "calls on its own line");
_Static_assert(offsetof(struct memreg_hooks, l1) % 64 == 0, "table aligned");

/* True when a watch count is up for a granule of [start, end). */
static int watched(struct memreg_hooks *h, uint64_t start, uint64_t end)
{
    if (end > TABLE_LIMIT) {
        if (atomic_load_explicit(&h->high_watches, memory_order_acquire) != 0) {
            return 1;
        }
        end = TABLE_LIMIT;
        if (start >= end) {
            return 0;
        }
    }
    uint64_t granule = start >> GRANULE_SHIFT;
    uint64_t last = (end - 1) >> GRANULE_SHIFT;
    while (granule <= last) {
        _Atomic uint32_t *l2 = atomic_load_explicit(&h->l1[granule >> L2_BITS], memory_order_acquire);
        uint64_t table_end = (granule | (L2_SLOTS - 1)) + 1;
        uint64_t stop = last + 1 < table_end ? last + 1 : table_end;
        if (l2 != NULL) {
            for (uint64_t g = granule; g < stop; g++) {
                if (atomic_load_explicit(&l2[g & (L2_SLOTS - 1)], memory_order_acquire) != 0) {
                    return 1;
                }
            }
        }
        granule = stop;
    }
    return 0;
}

/*
 * Claims a ring slot only while the consumer has freed it, so a slot never has two writers.
 * The sequence goes up after the slot (or the overflow flag) is written, and before the
 * unmapping thread enters the kernel: the full fence keeps the store ahead of the syscall.
 */
static void publish(struct memreg_hooks *h, uint64_t start, uint64_t end)
{
    uint64_t pos = atomic_load_explicit(&h->head, memory_order_relaxed);
    for (;;) {
        uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
        if (pos - tail >= RING_SLOTS) {
            atomic_store_explicit(&h->overflow, 1, memory_order_release);
            atomic_fetch_add_explicit(&h->overflows, 1, memory_order_relaxed);
            break;
        }
        if (atomic_compare_exchange_weak_explicit(&h->head, &pos, pos + 1, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            struct slot *slot = &h->ring[pos & (RING_SLOTS - 1)];
            slot->start = start;
            slot->end = end;
            atomic_store_explicit(&slot->stamp, pos + 1, memory_order_release);
            break;
        }
    }
    atomic_fetch_add_explicit(h->sequence, 1, memory_order_seq_cst);
    atomic_thread_fence(memory_order_seq_cst);
}

void memreg_hooks_handler(ucm_event_type_t type, ucm_event_t *event, void *arg)
{
    struct memreg_hooks *h = arg;
    atomic_fetch_add_explicit(&h->calls, 1, memory_order_relaxed);
    if (type != UCM_EVENT_VM_UNMAPPED || event->vm_unmapped.size == 0) {
        return;
    }
    uint64_t start = (uintptr_t) event->vm_unmapped.address;
    uint64_t end = start + event->vm_unmapped.size;
    if (end < start) {
        end = UINT64_MAX;
    }
    if (start < atomic_load_explicit(&h->probe_end, memory_order_acquire)
            && atomic_load_explicit(&h->probe_start, memory_order_acquire) < end) {
        atomic_fetch_add_explicit(&h->probe_hits, 1, memory_order_release);
    }
    if (watched(h, start, end)) {
        publish(h, start, end);
    }
}

/* Adds the handler for h; returns UCM's status (0: installed, -22: UCX_MEM_EVENTS=no). */
int memreg_hooks_install(struct memreg_hooks *h)
{
    return ucm_set_event_handler(UCM_EVENT_VM_UNMAPPED, PRIORITY, memreg_hooks_handler, h);
}

/* Removes the handler for h: once this returns no thread runs it for h (UCM's write lock). */
void memreg_hooks_remove(struct memreg_hooks *h)
{
    ucm_unset_event_handler(UCM_EVENT_VM_UNMAPPED, memreg_hooks_handler, h);
}

/* UCM's own check that its VM_UNMAPPED hooks fire (0: they do). */
int memreg_hooks_test(void)
{
    return ucm_test_events(UCM_EVENT_VM_UNMAPPED);
}

/* The shared layout, for Java: field offsets, sizes and the table's shape. */
int64_t memreg_hooks_layout(int what)
{
    switch (what) {
    case 0: return sizeof(struct memreg_hooks);
    case 1: return offsetof(struct memreg_hooks, sequence);
    case 2: return offsetof(struct memreg_hooks, head);
    case 3: return offsetof(struct memreg_hooks, overflows);
    case 4: return offsetof(struct memreg_hooks, overflow);
    case 5: return offsetof(struct memreg_hooks, tail);
    case 6: return offsetof(struct memreg_hooks, calls);
    case 7: return offsetof(struct memreg_hooks, probe_start);
    case 8: return offsetof(struct memreg_hooks, probe_end);
    case 9: return offsetof(struct memreg_hooks, probe_hits);
    case 10: return offsetof(struct memreg_hooks, high_watches);
    case 11: return offsetof(struct memreg_hooks, l1);
    case 12: return offsetof(struct memreg_hooks, ring);
    case 13: return sizeof(struct slot);
    case 14: return offsetof(struct slot, start);
    case 15: return offsetof(struct slot, end);
    case 16: return RING_SLOTS;
    case 17: return GRANULE_SHIFT;
    case 18: return L2_BITS;
    case 19: return L1_SLOTS;
    case 20: return TABLE_LIMIT;
    default: return -1;
    }
}
