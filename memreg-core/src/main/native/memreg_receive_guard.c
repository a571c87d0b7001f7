/*
 * Exposes a receive buffer to peers while UCP 1.13 has a rendezvous put into it, so that UCT's put
 * over TCP can stay on. A tagged rendezvous (protocol v1) with the put scheme goes: the receiver
 * registers its buffer (rndv.c:1740, ucp_request_recv_buffer_reg), sends the ready-to-receive with
 * the buffer's address, the sender puts into it and sends ATP after UCT's TCP put was acknowledged,
 * and the receiver deregisters the buffer as the receive completes (rndv.c:353, ucp_request.inl:917)
 * or its endpoint's requests are purged (ucp_ep.c:3335). The TCP guard sees the puts but, where the
 * ready-to-receive went by shared memory, never where they were promised; this does.
 *
 * libucp registers and deregisters a request's buffer through ucp_request_memory_reg and
 * ucp_request_memory_dereg, called through its PLT (objdump: all 23 and 25 calls go to @plt), with
 * a user's memory handle too (they return early). So these definitions, loaded into the global
 * scope before libucp, see every one: a receive request's contiguous host buffer is exposed for
 * writing only, from its registration to its deregistration (or its context's cleanup); a send
 * buffer (the rendezvous sender registers its own with the same flags, rndv.c:265) never is.
 * Which a request is, its flags say: the second field of UCX 1.13.1's ucp_request_t (a
 * ucs_status_t, then uint32_t flags, in every build), UCP_REQUEST_FLAG_RECV_TAG and _RECV_AM.
 */
#include <stdint.h>

#include "memreg_ucx_guard.h"

#define FLAG_SEND_AM (1u << 13)  /* UCP_REQUEST_FLAG_SEND_AM */
#define FLAG_SEND_TAG (1u << 14) /* UCP_REQUEST_FLAG_SEND_TAG */
#define FLAG_RECV_AM (1u << 16)  /* UCP_REQUEST_FLAG_RECV_AM */
#define FLAG_RECV_TAG (1u << 17) /* UCP_REQUEST_FLAG_RECV_TAG */
#define DATATYPE_CLASS_MASK 0x7  /* UCP_DATATYPE_CLASS_MASK; UCP_DATATYPE_CONTIG is 0 */

typedef ucs_status_t (*memory_reg_fn)(void *context, uint64_t md_map, void *buffer, size_t length,
                                      uint64_t datatype, void *state, int mem_type, void *req, unsigned uct_flags);
typedef void (*memory_dereg_fn)(void *context, uint64_t datatype, void *state, void *req);

static memory_reg_fn real_reg;
static memory_dereg_fn real_dereg;

/* UCP registered buffer for request req of context: a receive's buffer is exposed for writing, and
 * anything req exposed before is forgotten (a request is reused). 0, or -1 when there was no
 * room. Exported for the guard's own test, which hands it made-up requests. */
int memreg_request_registered(void *context, void *req, void *buffer, size_t length, uint64_t datatype,
                              int mem_type) {
    uint32_t flags = *(const uint32_t *) ((const uint8_t *) req + REQUEST_FLAGS_OFFSET);
    int receive = (flags & (FLAG_RECV_TAG | FLAG_RECV_AM)) != 0 && (flags & (FLAG_SEND_TAG | FLAG_SEND_AM)) == 0;
    if (receive && (datatype & DATATYPE_CLASS_MASK) == 0 && mem_type == MEMORY_TYPE_HOST) {
        return exposed_receive((uintptr_t) req, (uintptr_t) context, (uintptr_t) buffer, length);
    }
    memreg_withdraw((uintptr_t) req);
    return 0;
}

ucs_status_t ucp_request_memory_reg(void *context, uint64_t md_map, void *buffer, size_t length, uint64_t datatype,
                                    void *state, int mem_type, void *req, unsigned uct_flags) {
    ucs_status_t status = real_reg(context, md_map, buffer, length, datatype, state, mem_type, req, uct_flags);
    /* Whatever the status: a receive's ready-to-receive may still name the buffer to a peer, and
     * no room leaves its put refused (the connection is reset), never a stranger's let through. */
    memreg_request_registered(context, req, buffer, length, datatype, mem_type);
    return status;
}

void ucp_request_memory_dereg(void *context, uint64_t datatype, void *state, void *req) {
    memreg_withdraw((uintptr_t) req); /* before UCX lets go of the buffer */
    real_dereg(context, datatype, state, req);
}

/* Hands over libucp's own ucp_request_memory_reg and _dereg; before this, nothing calls the two
 * above (libucp is not loaded yet). */
void memreg_receive_install(void *memory_reg, void *memory_dereg) {
    real_reg = (memory_reg_fn) memory_reg;
    real_dereg = (memory_dereg_fn) memory_dereg;
}
