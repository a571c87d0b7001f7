/*
 * Makes the ids UCX 1.13 hands peers unguessable. UCP names its endpoints and requests to peers by
 * ids from a map per worker (ucs_ptr_map_t: ep_map, request_map), as UCT's TCP transport names its
 * endpoints in connection requests (the interface's ep_ptr_map); a peer's message that carries an
 * id acts on whatever it names. Each map counted its ids from zero (ucs_ptr_map_create_key:
 * next_id += 2, the indirect flag set), so a worker's first endpoints were 3, 5, 7 and its first
 * send in flight request 3. Measured: a stranger on a plain socket over TCP, sending one rendezvous
 * ATS or RTR per id 1, 3, ... 63, completed a worker's send in flight as delivered while its
 * receiver never got the data; an EP_REMOVED naming a counted endpoint id failed that endpoint.
 *
 * libucp and libuct set up every such map through libucs's ucs_ptr_map_init, and libucp makes
 * every endpoint id in libucs's ucs_ptr_safe_hash_put (the endpoint map takes ids from any thread),
 * both called through their PLT (objdump: libucp's two calls and one, libuct's one). These
 * definitions, loaded into the global scope before them, hand each on to libucs's own, and set the
 * map's count (next_id: the first field of every build's ucs_ptr_map_t, which libucs only adds
 * to) from getrandom(2): at a map's set-up, and before each endpoint id is made. So every endpoint
 * id is random.
 *
 * Request ids UCP makes inline, with no call to stand in front of; so the count of a worker's
 * request map is set afresh where the requests that name themselves to peers begin: a rendezvous
 * send (ucp_tag_send_start_rndv, which makes the id its RTS carries), a rendezvous receive
 * (ucp_rndv_receive, which makes the id of its ready-to-receive), called through libucp's PLT
 * (objdump: two calls and one), and a get (memreg calls memreg_id_shuffle before ucp_get_nbx,
 * whose request names itself in its GET_REQ). Which map is a worker's, memreg tells the guard as it makes the worker
 * (memreg_id_worker): the map UCP set up on that thread inside the worker's struct, not its
 * thread-safe endpoint map; it is forgotten when UCP destroys it (ucs_ptr_map_destroy, through the
 * PLT too). Requests that begin elsewhere (UCP's own, active-message rendezvous, sync sends, which
 * memreg makes none of) follow the last id from there. When the kernel gives no random bytes, the
 * map, endpoint or rendezvous send is not made (a receive's ready-to-receive takes the next id).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/random.h>

#include "memreg_ucx_guard.h"

#define ID_STEP_MASK 0x3u /* UCS_PTR_MAP_KEY_MIN_ALIGN | UCS_PTR_MAP_KEY_INDIRECT_FLAG: the count keeps them clear */
#define UCS_ERR_IO_ERROR (-3)
#define LOG_KEPT 16
#define MAX_WORKERS 1024   /* workers whose request map is known at once; a later one is refused */
#define WORKER_SPAN 0x10000 /* bytes of a ucp_worker_t past its start that its request map may sit at */
#define RECENT_MAPS 8
#define ISSUED_SLOTS 65536 /* endpoint ids remembered, one per slot of their bits: a newer id takes an older one's */
#define POOL_DRAWS 32 /* random counts fetched from the kernel at once: 256 bytes, what getrandom(2) gives whole */

typedef ucs_status_t (*map_init_fn)(void *map, int is_put_thread_safe, void *safe_hash);
typedef ucs_status_t (*safe_put_fn)(void *map, void *ptr, uint64_t *key, void *safe_hash);
typedef void (*map_destroy_fn)(void *map, int is_put_thread_safe, void *safe_hash);
typedef ucs_status_t (*start_rndv_fn)(void *req, const void *param);
typedef void (*rndv_receive_fn)(void *worker, void *rreq, const void *rts, const void *rkey);

typedef struct {
    void *map;
    int thread_safe;
} recent_map;

typedef struct {
    void *worker;
    void *map; /* its request map */
} worker_map;

/* The last values of a kind, by number from 0: for the guard's own tests, which play a peer that
 * saw an id (code in this process may read UCX's memory anyway). The kinds: where each map's count
 * started, each endpoint id, each request count set afresh, each rendezvous send's id (its RTS
 * names it to the receiver). */
enum { LOG_STARTS, LOG_ENDPOINTS, LOG_SHUFFLES, LOG_SENDS, LOGS };

typedef struct {
    _Atomic uint64_t count;
    _Atomic uint64_t values[LOG_KEPT];
} id_log;

static map_init_fn real_init;
static safe_put_fn real_safe_put;
static map_destroy_fn real_destroy;
static start_rndv_fn real_start_rndv;
static rndv_receive_fn real_rndv_receive;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static id_log logs[LOGS]; /* without the lock: noted on the rendezvous path, read by tests after it */
static worker_map workers[MAX_WORKERS];     /* under lock */
static unsigned workers_used;               /* entries ever taken: none past it; under lock */
static _Atomic uint64_t issued[ISSUED_SLOTS];       /* endpoint ids UCP made, each in the slot of its bits */
static _Thread_local recent_map recent[RECENT_MAPS]; /* the maps set up on this thread, last ones */
static _Thread_local unsigned recent_count;

static void log_add(id_log *log, uint64_t value) {
    uint64_t n = atomic_fetch_add_explicit(&log->count, 1, memory_order_relaxed);
    atomic_store_explicit(&log->values[n % LOG_KEPT], value, memory_order_relaxed);
}

/* Value number n of log, or 0 when it is not among the last LOG_KEPT. */
static uint64_t log_get(id_log *log, uint64_t n) {
    uint64_t count = atomic_load_explicit(&log->count, memory_order_relaxed);
    return n < count && count - n <= LOG_KEPT
            ? atomic_load_explicit(&log->values[n % LOG_KEPT], memory_order_relaxed) : 0;
}

static uint64_t log_count(id_log *log) {
    return atomic_load_explicit(&log->count, memory_order_relaxed);
}

/* A random count for a map: 1 once in *count, 0 when the kernel gave no random bytes. The kernel's
 * bytes are fetched POOL_DRAWS at a time (a getrandom call took 350-450 ns here, once per
 * rendezvous send and receive without the pool); a thread's pool is its own. */
static int random_count(uint64_t *count) {
    static _Thread_local uint64_t pool[POOL_DRAWS];
    static _Thread_local unsigned left;
    if (left == 0) {
        if (getrandom(pool, sizeof pool, 0) != (ssize_t) sizeof pool) {
            return 0;
        }
        left = POOL_DRAWS;
    }
    *count = pool[--left] & ~(uint64_t) ID_STEP_MASK;
    pool[left] = 0; /* each draw once */
    return 1;
}

ucs_status_t ucs_ptr_map_init(void *map, int is_put_thread_safe, void *safe_hash) {
    uint64_t start;
    if (real_init == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }
    if (!random_count(&start)) {
        return UCS_ERR_IO_ERROR; /* before libucs sets anything up: nothing to undo */
    }
    ucs_status_t status = real_init(map, is_put_thread_safe, safe_hash);
    if (status == UCS_OK) {
        *(uint64_t *) map = start; /* ucs_ptr_map_t.next_id, which libucs's own set to 0 */
        log_add(&logs[LOG_STARTS], start);
        recent[recent_count++ % RECENT_MAPS] = (recent_map) {map, is_put_thread_safe};
    }
    return status;
}

ucs_status_t ucs_ptr_safe_hash_put(void *map, void *ptr, uint64_t *key, void *safe_hash) {
    uint64_t count;
    if (real_safe_put == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }
    if (!random_count(&count)) {
        return UCS_ERR_IO_ERROR;
    }
    /* Outside libucs's lock, which it takes inside: two threads that make ids of one map at once
     * (memreg makes a worker's endpoints under its node's lock) each still get a fresh random id. */
    __atomic_store_n((uint64_t *) map, count, __ATOMIC_RELAXED);
    ucs_status_t status = real_safe_put(map, ptr, key, safe_hash);
    if (status == UCS_OK) {
        atomic_store_explicit(&issued[(*key >> 2) % ISSUED_SLOTS], *key, memory_order_relaxed);
        log_add(&logs[LOG_ENDPOINTS], *key);
    }
    return status;
}

int guard_endpoint_id_issued(uint64_t id) {
    return id != 0 && atomic_load_explicit(&issued[(id >> 2) % ISSUED_SLOTS], memory_order_relaxed) == id;
}

/* Every argument goes on to libucs's own: with one dropped, it read is_put_thread_safe and
 * safe_hash from whatever the unlock left in their registers (a futex wake: 0x81 and 1) and
 * destroyed a "safe hash" at address 1. */
void ucs_ptr_map_destroy(void *map, int is_put_thread_safe, void *safe_hash) {
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < workers_used; i++) {
        if (workers[i].map == map) {
            workers[i] = (worker_map) {NULL, NULL};
        }
    }
    pthread_mutex_unlock(&lock);
    if (real_destroy != NULL) {
        real_destroy(map, is_put_thread_safe, safe_hash);
    }
}

/* worker's request map: where UCP's next request id of it is counted from; NULL when not known. */
static void *request_map(void *worker) {
    void *map = NULL;
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < workers_used && map == NULL; i++) {
        if (workers[i].worker == worker && worker != NULL) {
            map = workers[i].map;
        }
    }
    pthread_mutex_unlock(&lock);
    return map;
}

/* The next request id of worker's is random: 0, 1 when the worker is not known (its ids go on from
 * the last), -1 when the kernel gave no random bytes. On the thread that makes the worker's requests. */
int memreg_id_shuffle(void *worker) {
    void *map = request_map(worker);
    uint64_t count;
    if (map == NULL) {
        return 1;
    }
    if (!random_count(&count)) {
        return -1;
    }
    *(uint64_t *) map = count;
    log_add(&logs[LOG_SHUFFLES], count);
    return 0;
}

ucs_status_t ucp_tag_send_start_rndv(void *req, const void *param) {
    if (real_start_rndv == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }
    if (memreg_id_shuffle(guard_request_worker(req)) < 0) {
        return UCS_ERR_IO_ERROR; /* the send fails before its id is made */
    }
    ucs_status_t status = real_start_rndv(req, param);
    if (status == UCS_OK) {
        log_add(&logs[LOG_SENDS], *(const uint64_t *) ((const uint8_t *) req + REQUEST_ID_OFFSET));
    }
    return status;
}

void ucp_rndv_receive(void *worker, void *rreq, const void *rts, const void *rkey) {
    if (real_rndv_receive == NULL) {
        return;
    }
    memreg_id_shuffle(worker); /* no random bytes: its ready-to-receive's id goes on from the last */
    real_rndv_receive(worker, rreq, rts, rkey);
}

/* memreg made worker on this thread: the map UCP set up inside it that is not its endpoint map is
 * its request map. 0; -1 when there is none (not UCX 1.13's layout), -2 when no room is left. */
int memreg_id_worker(void *worker) {
    void *map = NULL;
    for (unsigned i = 0; i < RECENT_MAPS && i < recent_count; i++) {
        recent_map *r = &recent[(recent_count - 1 - i) % RECENT_MAPS];
        uintptr_t at = (uintptr_t) r->map;
        if (!r->thread_safe && at >= (uintptr_t) worker && at < (uintptr_t) worker + WORKER_SPAN) {
            map = r->map;
            break;
        }
    }
    if (map == NULL) {
        return -1;
    }
    int result = -2;
    pthread_mutex_lock(&lock);
    for (unsigned i = 0; i < MAX_WORKERS && result != 0; i++) {
        if (workers[i].worker == NULL) {
            workers[i] = (worker_map) {worker, map};
            workers_used = i + 1 > workers_used ? i + 1 : workers_used;
            result = 0;
        }
    }
    pthread_mutex_unlock(&lock);
    return result;
}

/* Hands over libucs's own ucs_ptr_map_init, ucs_ptr_safe_hash_put and ucs_ptr_map_destroy, and
 * libucp's own ucp_tag_send_start_rndv and ucp_rndv_receive; before this, nothing calls those
 * above (libucp and libuct are not loaded yet). */
void memreg_id_install(void *map_init, void *safe_put, void *map_destroy, void *start_rndv, void *rndv_receive) {
    real_init = (map_init_fn) map_init;
    real_safe_put = (safe_put_fn) safe_put;
    real_destroy = (map_destroy_fn) map_destroy;
    real_start_rndv = (start_rndv_fn) start_rndv;
    real_rndv_receive = (rndv_receive_fn) rndv_receive;
}

/* How many values of log kind (LOG_STARTS, ...) this process noted: 0 for no such log. */
uint64_t memreg_id_logged(unsigned kind) {
    return kind < LOGS ? log_count(&logs[kind]) : 0;
}

/* Value number n (from 0) of log kind; 0 when not among its last LOG_KEPT. */
uint64_t memreg_id_log_entry(unsigned kind, uint64_t n) {
    return kind < LOGS ? log_get(&logs[kind], n) : 0;
}
