/*
 * The memory a peer may reach: the TCP guard's frame check holds every put and get over UCX 1.13's
 * TCP transport to it (memreg_tcp_frames.c), and the software RMA guard UCP's software puts and
 * gets over every transport (memreg_rma_guard.c). UCT's put over TCP carries a raw address and no
 * key the receiver checks (the TCP memory domain's remote key is empty), and so do UCP's software
 * put and get (active messages): without this, a peer wrote and read wherever it named.
 *
 * Two kinds of memory are exposed. Memory whose remote key is packed (ucp_rkey_pack: a window's,
 * a registration's handed to a peer), with the remote rights it was mapped with, until it is
 * unmapped; memreg names it here (memreg_expose, memreg_withdraw), keyed by its ucp_mem_h. And a
 * receive buffer while UCP has a rendezvous put into it, for writing only (memreg_receive_guard.c,
 * keyed by the receive request, owned by its ucp_context_h). Nothing else is. A process is one
 * trust domain: what one of its contexts exposes, a peer of any of its workers may reach.
 */
#include <pthread.h>
#include <stdlib.h>

#include "memreg_ucx_guard.h"

typedef struct {
    uint64_t key;   /* the ucp_mem_h, or the receive request */
    uint64_t owner; /* the receive request's ucp_context_h; 0 for packed memory */
    uint64_t start; /* [start, end) */
    uint64_t end;
    int rights;
} exposed_range;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static exposed_range *exposed;
static size_t exposed_count, exposed_room;
static uint64_t receives_exposed;

/* [address, address + length) as [start, end), false when it wraps. */
static int range_of(uint64_t address, uint64_t length, uint64_t *start, uint64_t *end) {
    *start = address;
    *end = address + length;
    return *end >= *start;
}

/* Notes [address, address + length) as reachable with rights under key, in place of what key
 * named before. 0 once noted, -1 when there is no room or the range wraps. */
static int expose(uint64_t key, uint64_t owner, uint64_t address, uint64_t length, int rights) {
    uint64_t start, end;
    if (!range_of(address, length, &start, &end)) {
        return -1;
    }
    pthread_mutex_lock(&lock);
    int result = 0;
    for (size_t i = 0; i < exposed_count; i++) {
        if (exposed[i].key == key) { /* packed again: the same memory, perhaps other rights */
            exposed[i] = (exposed_range) {key, owner, start, end, rights};
            goto out;
        }
    }
    if (exposed_count == exposed_room) {
        size_t room = exposed_room == 0 ? 64 : exposed_room * 2;
        exposed_range *grown = realloc(exposed, room * sizeof *grown);
        if (grown == NULL) {
            result = -1;
            goto out;
        }
        exposed = grown;
        exposed_room = room;
    }
    exposed[exposed_count++] = (exposed_range) {key, owner, start, end, rights};
out:
    pthread_mutex_unlock(&lock);
    return result;
}

/* Memory whose remote key was packed: peers may reach it with rights (EXPOSE_READ, _WRITE) until
 * it is withdrawn. 0 once noted, -1 when there is no room. */
int memreg_expose(uint64_t key, uint64_t address, uint64_t length, int rights) {
    return expose(key, 0, address, length, rights);
}

int exposed_receive(uint64_t request, uint64_t context, uint64_t address, uint64_t length) {
    int result = expose(request, context, address, length, EXPOSE_WRITE);
    if (result == 0) {
        __atomic_fetch_add(&receives_exposed, 1, __ATOMIC_RELAXED);
    }
    return result;
}

/* Receive buffers exposed so far (for tests: that UCP's rendezvous put reached one). */
uint64_t memreg_receives_exposed(void) {
    return __atomic_load_n(&receives_exposed, __ATOMIC_RELAXED);
}

/* Whether a peer may reach [address, address + length) with rights now (for tests). */
int memreg_exposed_reaches(uint64_t address, uint64_t length, int rights) {
    return exposed_may_reach(address, length, rights);
}

/* The memory of key is about to be unmapped: no peer reaches it from now on. */
void memreg_withdraw(uint64_t key) {
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < exposed_count; i++) {
        if (exposed[i].key == key) {
            exposed[i] = exposed[--exposed_count];
            break;
        }
    }
    pthread_mutex_unlock(&lock);
}

/* The context is about to be cleaned up: none of its receive requests is put into any more. */
void memreg_withdraw_owner(uint64_t owner) {
    pthread_mutex_lock(&lock);
    for (size_t i = exposed_count; i-- > 0;) {
        if (exposed[i].owner == owner) {
            exposed[i] = exposed[--exposed_count];
        }
    }
    pthread_mutex_unlock(&lock);
}

static int within_exposed(uint64_t start, uint64_t end, int rights) {
    for (size_t i = 0; i < exposed_count; i++) {
        if (start >= exposed[i].start && end <= exposed[i].end && (exposed[i].rights & rights) == rights) {
            return 1;
        }
    }
    return 0;
}

int exposed_may_reach(uint64_t address, uint64_t length, int rights) {
    uint64_t start, end;
    if (length == 0) {
        return 1; /* nothing is written or read */
    }
    if (!range_of(address, length, &start, &end)) {
        return 0;
    }
    pthread_mutex_lock(&lock);
    int may = within_exposed(start, end, rights);
    pthread_mutex_unlock(&lock);
    return may;
}

int exposed_software_rma(int put, const uint8_t *header, uint64_t message_length) {
    uint64_t length = put ? message_length - SW_PUT_BYTES : le64(header + 8);
    if (le32(header + (put ? 16 : 32)) != MEMORY_TYPE_HOST) {
        return SW_RMA_NOT_HOST; /* UCP copies by the memory type it is told */
    }
    return exposed_may_reach(le64(header), length, put ? EXPOSE_WRITE : EXPOSE_READ) ? SW_RMA_ALLOWED
                                                                                     : SW_RMA_UNEXPOSED;
}
