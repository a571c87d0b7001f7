/*
 * memreg's guard over UCX 1.13's TCP transport: only those who know a node's token get through,
 * no frame UCX would abort on gets through, and a peer that leaves does not take the process
 * with it.
 *
 * UCX's TCP interface listens on a port of its own and believes whatever arrives there: a plain
 * socket that sent UCX's magic number and one frame of an unexpected kind aborted the process
 * (tcp_ep.c:1440), and a UCX put over TCP wrote wherever its header said, registered or not.
 * So a connection to the listener of a worker that requires a token must open with that token,
 * 16 bytes before UCX's own, or it is cut before UCX reads a byte of it; and on every connection
 * accepted at a listener memreg knows, and every connection UCX makes, UCX's frames are checked
 * before UCX parses them.
 *
 * This library defines the libucs socket calls that libuct makes through its PLT (it is loaded
 * into the global scope before libucp, as for ucp_address_unpack) and hands each on to libucs's
 * own (memreg_tcp_install):
 *   - ucs_socket_accept: a connection accepted at a listener that requires a token must show it;
 *   - ucs_socket_connect: a connection to a listener whose token is known will show it, and
 *     every connection has its frames checked, to a listener memreg knows or not;
 *   - ucs_socket_send, _send_nb, _sendv_nb: the token goes out before the connection's first bytes,
 *     and a send to a peer that left is reported as sent (see peer_left);
 *   - ucs_socket_recv_nb: the token is read and compared before UCX reads; a wrong one, or none
 *     before the connection ends, resets it (UCX drops it as one its peer closed).
 * Listeners are learned from worker addresses (memreg_tcp_require): a worker's own, with its token
 * if it has one, a peer's before memreg connects to it (UCX answers a peer over the connection
 * the peer opened). On their connections, what UCX reads (after the token) is checked frame by
 * frame before UCX parses it (memreg_tcp_frames.c, fed what UCX reads and writes): a frame UCX
 * asserts against resets the connection, whoever sent it, and so does a put or get of memory not
 * exposed to peers (memreg_exposed.c) and a UCP message naming this process's endpoint or request
 * by a direct id (a pointer UCP would follow). The token keeps strangers out; it does not make a
 * peer that holds it harmless (UCP trusts what its other messages say), nor hide it from whoever
 * can read the network.
 */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "memreg_ucx_guard.h"

#define TOKEN_BYTES 16
#define MAX_LISTENERS 4096
#define FD_CHUNK 1024
#define FD_CHUNKS 1024 /* connections on descriptors up to 2^20 are tracked; a later one is refused */
#define ENDPOINT_FLAGS 0x1f

/* A listener, as UCX connects to it and as its accepted connections see themselves. */
typedef struct {
    uint16_t family;
    uint16_t port; /* host order */
    uint8_t ip[16];
} endpoint;

typedef struct {
    endpoint where;
    uint8_t token[TOKEN_BYTES];
    uint8_t has_token; /* else its connections have only their frames checked */
    uint8_t in_use;
} listener;

/* A connection is plain (not one of a guarded listener's) or guarded: it owes or awaits its
 * token, then has its frames checked, until it is refused. */
enum { FD_PLAIN, FD_SEND_TOKEN, FD_AWAIT_TOKEN, FD_CHECKED, FD_REFUSED };

typedef struct {
    _Atomic uint8_t role; /* FD_PLAIN needs no lock: UCX's reads and writes pass straight through */
    uint8_t have;         /* bytes of the token read so far */
    uint8_t token[TOKEN_BYTES];
    uint8_t seen[TOKEN_BYTES];
    frame_reader frames;  /* read by the one thread that progresses the connection's worker */
} fd_state;

typedef ucs_status_t (*accept_fn)(int, struct sockaddr *, socklen_t *, int *);
typedef ucs_status_t (*connect_fn)(int, const struct sockaddr *);
typedef ucs_status_t (*send_fn)(int, const void *, size_t);
typedef ucs_status_t (*io_nb_fn)(int, void *, size_t *);
typedef ucs_status_t (*sendv_nb_fn)(int, struct iovec *, size_t, size_t *);

static accept_fn real_accept;
static connect_fn real_connect;
static send_fn real_send;
static io_nb_fn real_send_nb;
static io_nb_fn real_recv_nb;
static sendv_nb_fn real_sendv_nb;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* Own listeners, whose connections must show a token; and others', to whom a token is shown. */
static listener own[MAX_LISTENERS];
static listener others[MAX_LISTENERS];
static _Atomic(fd_state *) fds[FD_CHUNKS];
static atomic_ulong admitted, refused, shown;
static atomic_ulong frames_refused[FRAME_KINDS];

static int same_endpoint(const endpoint *a, const endpoint *b) {
    return a->family == b->family && a->port == b->port && memcmp(a->ip, b->ip, sizeof a->ip) == 0;
}

static listener *find(listener *table, const endpoint *where) {
    for (int i = 0; i < MAX_LISTENERS; i++) {
        if (table[i].in_use && same_endpoint(&table[i].where, where)) {
            return &table[i];
        }
    }
    return NULL;
}

/* Under lock; token may be NULL. A full table makes room in turn: memreg names a peer's listeners
 * again at each connect. */
static void remember(listener *table, const endpoint *where, const uint8_t *token) {
    static unsigned next_room;
    listener *l = find(table, where);
    if (l != NULL && l->has_token && token == NULL) {
        return; /* a worker without one connects where others show a token: they still do */
    }
    for (int i = 0; l == NULL && i < MAX_LISTENERS; i++) {
        if (!table[i].in_use) {
            l = &table[i];
        }
    }
    if (l == NULL) {
        l = &table[next_room++ % MAX_LISTENERS];
    }
    l->where = *where;
    l->has_token = token != NULL;
    if (token != NULL) {
        memcpy(l->token, token, TOKEN_BYTES);
    }
    l->in_use = 1;
}

static int endpoint_of(const struct sockaddr *sa, endpoint *e) {
    memset(e, 0, sizeof *e);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
        memcpy(e->ip, &in->sin_addr, 4);
        e->port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
        memcpy(e->ip, &in6->sin6_addr, 16);
        e->port = ntohs(in6->sin6_port);
    } else {
        return 0;
    }
    e->family = sa->sa_family;
    return 1;
}

/* The state of a descriptor; with create, made when missing (NULL only when it cannot be). */
static fd_state *state_of(int fd, int create) {
    if (fd < 0 || fd >= FD_CHUNK * FD_CHUNKS) {
        return NULL;
    }
    fd_state *chunk = atomic_load_explicit(&fds[fd / FD_CHUNK], memory_order_acquire);
    if (chunk == NULL && create) {
        fd_state *fresh = calloc(FD_CHUNK, sizeof(fd_state));
        if (fresh != NULL && !atomic_compare_exchange_strong(&fds[fd / FD_CHUNK], &chunk, fresh)) {
            free(fresh); /* another thread made it: chunk now holds theirs */
        } else {
            chunk = fresh;
        }
    }
    return chunk == NULL ? NULL : &chunk[fd % FD_CHUNK];
}

static uint8_t role_of(const fd_state *s) {
    return s == NULL ? FD_PLAIN : atomic_load_explicit(&s->role, memory_order_acquire);
}

/* A new connection on fd: it starts plain, checked, or owing or awaiting token; accepted at a
 * listener of the given family, or connected to peer. False when it cannot be tracked. */
static int begin(int fd, uint8_t role, const uint8_t *token, uint16_t family, const struct sockaddr *peer) {
    fd_state *s = state_of(fd, role != FD_PLAIN);
    if (s == NULL) {
        return role == FD_PLAIN;
    }
    pthread_mutex_lock(&lock);
    s->have = 0;
    if (role == FD_SEND_TOKEN || role == FD_AWAIT_TOKEN) {
        memcpy(s->token, token, TOKEN_BYTES);
    }
    frames_begin(&s->frames, family, (const uint8_t *) peer);
    atomic_store_explicit(&s->role, role, memory_order_release);
    pthread_mutex_unlock(&lock);
    return 1;
}

ucs_status_t ucs_socket_accept(int fd, struct sockaddr *addr, socklen_t *length, int *accept_fd) {
    if (real_accept == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }
    for (;;) {
        socklen_t given = *length;
        ucs_status_t status = real_accept(fd, addr, length, accept_fd);
        if (status != UCS_OK) {
            return status;
        }
        struct sockaddr_storage local;
        socklen_t local_length = sizeof local;
        endpoint here = {0};
        uint8_t token[TOKEN_BYTES];
        uint8_t role = FD_PLAIN;
        if (getsockname(*accept_fd, (struct sockaddr *) &local, &local_length) == 0
                && endpoint_of((struct sockaddr *) &local, &here)) {
            pthread_mutex_lock(&lock);
            listener *l = find(own, &here);
            if (l != NULL) {
                memcpy(token, l->token, TOKEN_BYTES);
                role = l->has_token ? FD_AWAIT_TOKEN : FD_CHECKED;
            }
            pthread_mutex_unlock(&lock);
        }
        if (begin(*accept_fd, role, token, here.family, NULL)) {
            return UCS_OK;
        }
        /* cannot track it, so neither its token nor its frames can be checked: drop it, take the next */
        close(*accept_fd);
        *accept_fd = -1;
        *length = given;
        atomic_fetch_add_explicit(&refused, 1, memory_order_relaxed);
    }
}

ucs_status_t ucs_socket_connect(int fd, const struct sockaddr *dest) {
    if (real_connect == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }
    endpoint there;
    uint8_t token[TOKEN_BYTES];
    uint8_t role = FD_PLAIN; /* not an IP address: none of UCX's TCP listeners */
    if (endpoint_of(dest, &there)) {
        /* A listener memreg never named has its frames checked too: UCP connects where a peer's
         * message says (its answer to an endpoint check goes to the address the check carries),
         * and what comes back is whoever listens there's to choose. */
        role = FD_CHECKED;
        pthread_mutex_lock(&lock);
        listener *l = find(own, &there); /* a worker of this process: its own token, whoever connects */
        if (l == NULL) {
            l = find(others, &there);
        }
        if (l != NULL) {
            memcpy(token, l->token, TOKEN_BYTES);
            role = l->has_token ? FD_SEND_TOKEN : FD_CHECKED;
        }
        pthread_mutex_unlock(&lock);
    }
    if (!begin(fd, role, token, there.family, dest)) {
        return UCS_ERR_NO_MEMORY;
    }
    return real_connect(fd, dest);
}

/* Before a connection's first bytes: the token it owes, whole (a blocking send of 16 bytes). */
static ucs_status_t show_token(int fd, fd_state *s) {
    if (role_of(s) != FD_SEND_TOKEN) {
        return UCS_OK;
    }
    atomic_store_explicit(&s->role, FD_CHECKED, memory_order_release);
    atomic_fetch_add_explicit(&shown, 1, memory_order_relaxed);
    return real_send(fd, s->token, TOKEN_BYTES);
}

/*
 * A send that failed because the peer closed or reset the connection is reported as sent. UCX
 * turns that failure into ENDPOINT_TIMEOUT for its caller, and where the caller is UCP answering
 * the peer (a software put's completion, after the peer put and then left) UCP has no way to
 * fail and ends the process: ucs_fatal("unexpected error") at ucp_request.inl:346. The bytes are
 * lost either way; UCX learns of the loss on its next read of the connection, which it handles.
 */
static int peer_left(ucs_status_t status) {
    return status == UCS_ERR_CONNECTION_RESET || status == UCS_ERR_NOT_CONNECTED || status == UCS_ERR_TIMED_OUT;
}

static atomic_ulong sends_to_departed;

static ucs_status_t sent_unless_failed(ucs_status_t status, size_t *length, size_t requested) {
    if (!peer_left(status)) {
        return status;
    }
    atomic_fetch_add_explicit(&sends_to_departed, 1, memory_order_relaxed);
    *length = requested;
    return UCS_OK;
}

ucs_status_t ucs_socket_send(int fd, const void *data, size_t length) {
    if (real_send == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }
    fd_state *s = state_of(fd, 0);
    if (role_of(s) != FD_PLAIN) { /* UCX sends its connection-manager events here, each whole */
        frames_sent(&s->frames, data, length);
    }
    ucs_status_t status = show_token(fd, s);
    if (status == UCS_OK) {
        status = real_send(fd, data, length);
    }
    size_t ignored;
    return sent_unless_failed(status, &ignored, length);
}

ucs_status_t ucs_socket_send_nb(int fd, const void *data, size_t *length) {
    if (real_send_nb == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }
    size_t requested = *length;
    fd_state *s = state_of(fd, 0);
    ucs_status_t status = show_token(fd, s);
    if (status == UCS_OK) {
        status = real_send_nb(fd, (void *) data, length);
    }
    status = sent_unless_failed(status, length, requested);
    if (status == UCS_OK && role_of(s) != FD_PLAIN) {
        frames_wrote(&s->frames, data, *length);
    }
    return status;
}

ucs_status_t ucs_socket_sendv_nb(int fd, struct iovec *iov, size_t iov_count, size_t *length) {
    if (real_sendv_nb == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }
    size_t requested = 0;
    for (size_t i = 0; i < iov_count; i++) {
        requested += iov[i].iov_len;
    }
    fd_state *s = state_of(fd, 0);
    ucs_status_t status = show_token(fd, s);
    if (status == UCS_OK) {
        status = real_sendv_nb(fd, iov, iov_count, length);
    }
    status = sent_unless_failed(status, length, requested);
    size_t left = *length;
    for (size_t i = 0; status == UCS_OK && role_of(s) != FD_PLAIN && i < iov_count && left > 0; i++) {
        size_t part = iov[i].iov_len < left ? iov[i].iov_len : left;
        frames_wrote(&s->frames, iov[i].iov_base, part);
        left -= part;
    }
    return status;
}

/* Differs in any byte, in time that does not say which. */
static int tokens_differ(const uint8_t *a, const uint8_t *b) {
    uint8_t diff = 0;
    for (int i = 0; i < TOKEN_BYTES; i++) {
        diff |= a[i] ^ b[i];
    }
    return diff != 0;
}

/* Under lock: the token's bytes as they come; UCS_OK once all have come and match. A connection
 * that ends or fails first is refused too: it never showed the token. */
static ucs_status_t read_token(int fd, fd_state *s) {
    while (s->have < TOKEN_BYTES) {
        size_t want = TOKEN_BYTES - s->have;
        ucs_status_t status = real_recv_nb(fd, s->seen + s->have, &want);
        if (status == UCS_ERR_NO_PROGRESS) {
            return status; /* the rest is still to come */
        }
        if (status != UCS_OK) { /* ended or failed before it showed the token */
            atomic_store_explicit(&s->role, FD_REFUSED, memory_order_release);
            atomic_fetch_add_explicit(&refused, 1, memory_order_relaxed);
            return status;
        }
        s->have += (uint8_t) want;
    }
    if (tokens_differ(s->seen, s->token)) {
        atomic_store_explicit(&s->role, FD_REFUSED, memory_order_release);
        atomic_fetch_add_explicit(&refused, 1, memory_order_relaxed);
        return UCS_ERR_CONNECTION_RESET;
    }
    atomic_fetch_add_explicit(&admitted, 1, memory_order_relaxed);
    atomic_store_explicit(&s->role, FD_CHECKED, memory_order_release);
    return UCS_OK;
}

/* What UCX just read of a guarded connection, before UCX parses it: a frame it would abort on
 * ends the connection (UCX drops it as one its peer reset). */
static ucs_status_t check_frames(fd_state *s, const void *data, size_t length) {
    int fault = frames_read(&s->frames, data, length);
    if (fault == FRAME_OK) {
        return UCS_OK;
    }
    atomic_store_explicit(&s->role, FD_REFUSED, memory_order_release);
    atomic_fetch_add_explicit(&frames_refused[fault], 1, memory_order_relaxed);
    return UCS_ERR_CONNECTION_RESET;
}

ucs_status_t ucs_socket_recv_nb(int fd, void *data, size_t *length) {
    if (real_recv_nb == NULL) {
        return UCS_ERR_UNSUPPORTED;
    }
    fd_state *s = state_of(fd, 0);
    uint8_t role = role_of(s);
    if (role == FD_PLAIN) {
        return real_recv_nb(fd, data, length);
    }
    ucs_status_t status = UCS_OK;
    if (role == FD_REFUSED || role == FD_AWAIT_TOKEN) {
        pthread_mutex_lock(&lock);
        status = role == FD_REFUSED ? UCS_ERR_CONNECTION_RESET : read_token(fd, s);
        pthread_mutex_unlock(&lock);
    }
    if (status == UCS_OK) {
        frames_expect(&s->frames, *length);
        status = real_recv_nb(fd, data, length);
    }
    if (status == UCS_OK) {
        status = check_frames(s, data, *length);
    }
    if (status != UCS_OK) {
        *length = 0;
    }
    return status;
}

typedef struct {
    endpoint found[128]; /* an address holds at most UCP_MAX_RESOURCES interfaces */
    int count;
} listeners_found;

/* The TCP listener of one interface of an address: its device's IP (or loopback's) and its port. */
static void collect_tcp(void *context, uint16_t transport, const tl_addresses *a) {
    listeners_found *out = context;
    if (transport != guard_name_sum("tcp") || out->count == (int) (sizeof out->found / sizeof out->found[0])) {
        return;
    }
    endpoint *e = &out->found[out->count++];
    memset(e, 0, sizeof *e);
    e->family = a->dev[1];
    e->port = (uint16_t) (a->iface[0] << 8 | a->iface[1]); /* network order in the address */
    if (a->dev[0] & GUARD_TCP_LOOPBACK) {
        if (e->family == GUARD_AF_INET) {
            e->ip[0] = 127;
            e->ip[3] = 1;
        } else {
            e->ip[15] = 1;
        }
    } else {
        memcpy(e->ip, a->dev + 2, e->family == GUARD_AF_INET ? 4 : 16);
    }
}

static int listeners_of(const uint8_t *address, size_t length, listeners_found *out) {
    out->count = 0;
    int fault = guard_address_walk(address, length, ENDPOINT_FLAGS, collect_tcp, out);
    return fault != 0 ? -fault : out->count;
}

/*
 * The TCP listeners of a worker address are guarded, with token (NULL: their frames are checked,
 * no token asked): with own_worker, the address is a worker's of this process, whose listeners
 * then refuse connections without the token (and which any worker of this process shows it);
 * else a peer's, shown it (a listener known with a token keeps it). Answers how many listeners
 * the address names, or minus the fault memreg_address_check finds in it.
 */
int memreg_tcp_require(const uint8_t *address, size_t length, const uint8_t *token, int own_worker) {
    listeners_found found;
    int count = listeners_of(address, length, &found);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < count; i++) {
        remember(own_worker ? own : others, &found.found[i], token);
    }
    pthread_mutex_unlock(&lock);
    return count;
}

/* This process's worker at address is gone: its listeners' ports may serve another. */
void memreg_tcp_forget(const uint8_t *address, size_t length) {
    listeners_found found;
    int count = listeners_of(address, length, &found);
    pthread_mutex_lock(&lock);
    for (int i = 0; i < count; i++) {
        listener *l = find(own, &found.found[i]);
        if (l != NULL) {
            l->in_use = 0;
        }
    }
    pthread_mutex_unlock(&lock);
}

/* How many of the TCP listeners of a worker address of this process require a token now. */
int memreg_tcp_guarded(const uint8_t *address, size_t length) {
    listeners_found found;
    int count = listeners_of(address, length, &found), guarded = 0;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < count; i++) {
        listener *l = find(own, &found.found[i]);
        guarded += l != NULL && l->has_token;
    }
    pthread_mutex_unlock(&lock);
    return guarded;
}

/* Hands over libucs's own socket calls; before this, the ones above refuse to work. */
void memreg_tcp_install(void *accept, void *connect, void *send, void *send_nb, void *sendv_nb, void *recv_nb) {
    real_accept = (accept_fn) accept;
    real_connect = (connect_fn) connect;
    real_send = (send_fn) send;
    real_send_nb = (io_nb_fn) send_nb;
    real_sendv_nb = (sendv_nb_fn) sendv_nb;
    real_recv_nb = (io_nb_fn) recv_nb;
}

/* Connections admitted with the right token, refused without it, and tokens shown to listeners. */
uint64_t memreg_tcp_admitted(void) {
    return atomic_load_explicit(&admitted, memory_order_relaxed);
}

uint64_t memreg_tcp_refused(void) {
    return atomic_load_explicit(&refused, memory_order_relaxed);
}

uint64_t memreg_tcp_shown(void) {
    return atomic_load_explicit(&shown, memory_order_relaxed);
}

/* Guarded connections ended for a frame, of one fault of memreg_ucx_guard.h's (FRAME_OK: all). */
uint64_t memreg_tcp_frames_refused(int fault) {
    uint64_t sum = 0;
    for (int i = 1; i < FRAME_KINDS; i++) {
        if (fault == FRAME_OK || fault == i) {
            sum += atomic_load_explicit(&frames_refused[i], memory_order_relaxed);
        }
    }
    return sum;
}

/* Sends to a peer that had closed or reset the connection, reported to UCX as sent. */
uint64_t memreg_tcp_sends_to_departed(void) {
    return atomic_load_explicit(&sends_to_departed, memory_order_relaxed);
}
