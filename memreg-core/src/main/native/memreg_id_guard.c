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
 * id is random, and request ids (made inline, no call to stand in front of) and UCT's TCP endpoint
 * ids follow one another from a random start: whoever saw none of a worker's request ids cannot
 * name one, and a peer that saw one (a rendezvous the worker sent it) can guess its neighbours.
 * When the kernel gives no random bytes, the map or endpoint is not made.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/random.h>

#include "memreg_ucx_guard.h"

#define ID_STEP_MASK 0x3u /* UCS_PTR_MAP_KEY_MIN_ALIGN | UCS_PTR_MAP_KEY_INDIRECT_FLAG: the count keeps them clear */
#define UCS_ERR_IO_ERROR (-3)
#define LOG_KEPT 16

typedef ucs_status_t (*map_init_fn)(void *map, int is_put_thread_safe, void *safe_hash);
typedef ucs_status_t (*safe_put_fn)(void *map, void *ptr, uint64_t *key, void *safe_hash);

/* The last values of a kind, by number from 0: for the guard's own tests, which play a peer that
 * saw an id (code in this process may read UCX's memory anyway). */
typedef struct {
    uint64_t count;
    uint64_t values[LOG_KEPT];
} id_log;

static map_init_fn real_init;
static safe_put_fn real_safe_put;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static id_log starts, endpoint_ids; /* under lock */

static void log_add(id_log *log, uint64_t value) {
    pthread_mutex_lock(&lock);
    log->values[log->count++ % LOG_KEPT] = value;
    pthread_mutex_unlock(&lock);
}

/* Value number n of log, or 0 when it is not among the last LOG_KEPT. */
static uint64_t log_get(id_log *log, uint64_t n) {
    pthread_mutex_lock(&lock);
    uint64_t value = n < log->count && log->count - n <= LOG_KEPT ? log->values[n % LOG_KEPT] : 0;
    pthread_mutex_unlock(&lock);
    return value;
}

static uint64_t log_count(id_log *log) {
    pthread_mutex_lock(&lock);
    uint64_t count = log->count;
    pthread_mutex_unlock(&lock);
    return count;
}

/* A random count for a map: 1 once in *count, 0 when the kernel gave no random bytes. */
static int random_count(uint64_t *count) {
    if (getrandom(count, sizeof *count, 0) != (ssize_t) sizeof *count) {
        return 0;
    }
    *count &= ~(uint64_t) ID_STEP_MASK;
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
        log_add(&starts, start);
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
        log_add(&endpoint_ids, *key);
    }
    return status;
}

/* Hands over libucs's own ucs_ptr_map_init and ucs_ptr_safe_hash_put; before this, nothing calls
 * the two above (libucp and libuct are not loaded yet). */
void memreg_id_install(void *map_init, void *safe_put) {
    real_init = (map_init_fn) map_init;
    real_safe_put = (safe_put_fn) safe_put;
}

/* Maps whose count this guard started at random, in this process. */
uint64_t memreg_id_maps_started(void) {
    return log_count(&starts);
}

/* Where map number n (from 0, in the order UCX set them up) started counting: its first id is
 * this + 3; 0 when n is not among the last 16. */
uint64_t memreg_id_start(uint64_t n) {
    return log_get(&starts, n);
}

/* Random endpoint ids made in this process. */
uint64_t memreg_id_endpoints(void) {
    return log_count(&endpoint_ids);
}

/* Endpoint id number n (from 0, in the order UCP made them); 0 when n is not among the last 16. */
uint64_t memreg_id_endpoint(uint64_t n) {
    return log_get(&endpoint_ids, n);
}
