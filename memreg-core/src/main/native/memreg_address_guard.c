/*
 * memreg's guard over UCX 1.13's worker addresses.
 *
 * UCX trusts the worker addresses it unpacks: those memreg hands ucp_ep_create, and those that
 * peers send in UCX's own wire-up messages, which memreg never sees. Bytes a peer chose there
 * aborted or crashed the process: a NaN or huge latency failed an assertion while lanes were
 * scored (select.c), an interface address of length 0 was dereferenced as NULL by the TCP and
 * CMA transports. So every address is checked here before UCX reads it.
 *
 * This library defines ucp_address_unpack itself and is loaded into the global scope before
 * libucp, whose own calls to that function go through its PLT: they reach this definition,
 * which checks the bytes and calls libucp's (handed over by memreg_guard_install), or refuses
 * the address as UCX refuses a malformed one, with UCS_ERR_INVALID_ADDR. It needs no UCX
 * headers and no Java; its checks follow UCX 1.13.1's address.c and the transports' address
 * structs, in UCX's default (non-unified) mode.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "memreg_ucx_guard.h"

/* What memreg_address_check answers: 0, or the first fault found (memreg_guard_reason names it). */
enum {
    GUARD_OK,
    GUARD_SHORT,        /* the structure runs past the bytes given */
    GUARD_VERSION,      /* not address version 1 or 2 */
    GUARD_COUNT,        /* more devices, interfaces or endpoint addresses than UCX allows */
    GUARD_INDEX,        /* a memory domain index, lane or path count out of range */
    GUARD_PERFORMANCE,  /* a latency, overhead, bandwidth or message size out of sane bounds */
    GUARD_TRANSPORT,    /* a transport's device, interface or endpoint address of the wrong form */
    GUARD_REASONS
};

static const char *const REASONS[GUARD_REASONS] = {
    "ok",
    "it is cut short",
    "unknown address version",
    "more devices, interfaces or endpoint addresses than UCX allows",
    "a memory domain index, lane or path count out of range",
    "a latency, overhead, bandwidth or message size out of range",
    "a transport's device, interface or endpoint address of the wrong form",
};

/* UCX 1.13.1: ucp_types.h, address.c, address.h */
#define MAX_ENTRIES 128           /* UCP_MAX_RESOURCES */
#define MAX_DEVICES 64            /* dev_index is a bit of a 64-bit map */
#define MAX_MDS 64                /* UCP_MAX_MDS */
#define MAX_LANES GUARD_MAX_LANES
#define NULL_RESOURCE 0xffu
#define FLAG_LAST 0x80u
#define FLAG_HAS_EP_ADDR 0x40u
#define FLAG_NUM_PATHS 0x40u
#define FLAG_SYS_DEVICE 0x20u
#define DEVICE_LEN_MASK 0x1fu
#define IFACE_LEN_MASK 0x3fu
#define MD_EMPTY_DEV 0x80u
#define MD_MASK_V1 0x1fu
#define MD_MASK_V2 0x7fu
#define HEADER_DEBUG_INFO 0x1u
#define HEADER_WORKER_UUID 0x2u
#define HEADER_CLIENT_ID 0x4u
#define UNPACK_WORKER_UUID 0x1u
#define UNPACK_WORKER_NAME 0x2u
#define UNPACK_TL_RSC_IDX 0x20u
#define FP8_EXPONENT_MASK 0x0fu /* an exponent of all ones is NaN or infinity */
#define SEG_SIZE_FACTOR 64u       /* UCP_ADDRESS_IFACE_SEG_SIZE_FACTOR */
#define IFACE_FLAGS_MESSAGES 0x66u /* UCP_ADDR_IFACE_FLAG_ AM_SYNC, CB_ASYNC, TAG_EAGER, TAG_RNDV */
#define MIN_SEGMENT 1024u         /* far below any transport's (8 KiB for TCP and shared memory) */
#define LOCAL_ADDR_FLAG_NS (1ull << 63)     /* uct_iface_local_addr_base_t: a namespace follows */
#define CMA_ADDR_FLAG_PID_NS (1u << 31)
#define POSIX_SEG_PROCFS (1ull << 63)
#define POSIX_SEG_SHM_OPEN (1ull << 62)
#define POSIX_SEG_PID_NS (1ull << 60)
typedef ucs_status_t (*unpack_fn)(void *worker, const void *buffer, unsigned flags, void *unpacked);

static unpack_fn real_unpack;
static atomic_ulong refused;
static atomic_ulong unpacked;

/* A cursor over [p, end): every read is bounds-checked. */
typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} cursor;

static int has(const cursor *c, size_t n) {
    return (size_t) (c->end - c->p) >= n;
}

static uint64_t read_le(const uint8_t *p, int bytes) {
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; i--) {
        value = value << 8 | p[i];
    }
    return value;
}

static float read_float(const uint8_t *p) {
    uint32_t bits = (uint32_t) read_le(p, 4);
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* A byte's low bits under mask; in version 2 a value of all ones means the next byte holds it. */
static int byte_extended(cursor *c, unsigned mask, int v2, unsigned *value) {
    if (!has(c, 1)) {
        return GUARD_SHORT;
    }
    *value = *c->p++ & mask;
    if (v2 && *value == mask) {
        if (!has(c, 1)) {
            return GUARD_SHORT;
        }
        *value = *c->p++;
    }
    return GUARD_OK;
}

/* CRC-16 as UCX names its transports by (reflected polynomial 0x8408, initial and final inversion). */
uint16_t guard_name_sum(const char *name) {
    uint16_t crc = 0xffff;
    for (; *name != '\0'; name++) {
        crc ^= (uint8_t) *name;
        for (int bit = 0; bit < 8; bit++) {
            crc = (uint16_t) ((crc >> 1) ^ ((crc & 1) ? 0x8408 : 0));
        }
    }
    return (uint16_t) ~crc;
}

static int perf_ok(float value, float low, float high) {
    return isfinite(value) && value >= low && value <= high;
}

/* A shared-memory device address (uct_iface_local_addr_base_t or _ns_t): a system id, a namespace if flagged. */
static int local_addr_ok(const uint8_t *addr, unsigned length) {
    return length >= 8 && length == ((read_le(addr, 8) & LOCAL_ADDR_FLAG_NS) ? 16u : 8u);
}

/*
 * The transports of this machine: each one's addresses must have the form it packs, for its own
 * code reads them without their lengths. Others (InfiniBand and the like) get the generic checks only.
 */
static int transport_ok(uint16_t sum, const tl_addresses *a) {
    if (sum == guard_name_sum("self")) {
        return a->dev_len == 0 && a->iface_len == 8 && a->eps == 0;
    }
    if (sum == guard_name_sum("tcp")) {
        if (a->dev_len < 2 || a->iface_len != 2) {
            return 0;
        }
        for (unsigned i = 0; i < a->eps; i++) {
            if (a->ep_lens[i] != 10) { /* uct_tcp_ep_addr_t: a port and a 64-bit key */
                return 0;
            }
        }
        unsigned family = a->dev[1];
        if (family != GUARD_AF_INET && family != GUARD_AF_INET6) {
            return 0;
        }
        if (a->dev[0] & GUARD_TCP_LOOPBACK) { /* a local address follows */
            return local_addr_ok(a->dev + 2, a->dev_len - 2);
        }
        return a->dev_len == 2 + (family == GUARD_AF_INET ? 4u : 16u);
    }
    if (sum == guard_name_sum("cma")) {
        if (!local_addr_ok(a->dev, a->dev_len) || a->iface_len < 4 || a->eps != 0) {
            return 0;
        }
        return a->iface_len == ((read_le(a->iface, 4) & CMA_ADDR_FLAG_PID_NS) ? 12u : 4u);
    }
    if (sum == guard_name_sum("sysv")) {
        return local_addr_ok(a->dev, a->dev_len) && a->iface_len == 8 && a->eps == 0;
    }
    if (sum == guard_name_sum("posix")) {
        if (!local_addr_ok(a->dev, a->dev_len) || a->iface_len < 8 || a->eps != 0) {
            return 0;
        }
        uint64_t seg = read_le(a->iface, 8);
        if ((seg & POSIX_SEG_PID_NS) && a->iface_len < 16) {
            return 0;
        }
        if (!(seg & (POSIX_SEG_PROCFS | POSIX_SEG_SHM_OPEN))) { /* a directory name follows, ended by a NUL */
            return a->iface_len > 8 && memchr(a->iface + 8, 0, a->iface_len - 8) != NULL;
        }
        return 1;
    }
    return 1;
}

static int check_perf(const cursor *c, int v2) {
    if (v2) { /* fp8 overhead, bandwidth, latency: each bounded by its format unless NaN/infinity */
        for (int i = 0; i < 3; i++) {
            if ((c->p[i] & FP8_EXPONENT_MASK) == FP8_EXPONENT_MASK) {
                return GUARD_PERFORMANCE;
            }
        }
        /* the largest message a peer can take, which trims UCX's own: 0 aborted an endpoint's set-up */
        unsigned segment = (unsigned) read_le(c->p + 4, 2) * SEG_SIZE_FACTOR;
        unsigned flags = (unsigned) read_le(c->p + 6, 2);
        if ((flags & IFACE_FLAGS_MESSAGES) && segment < MIN_SEGMENT) {
            return GUARD_PERFORMANCE;
        }
        return GUARD_OK;
    }
    /* overhead and latency in seconds, bandwidth in bytes a second, as floats */
    float overhead = read_float(c->p);
    float bandwidth = read_float(c->p + 4);
    float latency = read_float(c->p + 8);
    if (!perf_ok(overhead, 0, 1) || !perf_ok(latency, 0, 1) || !perf_ok(fabsf(bandwidth), 1, 1e15f)) {
        return GUARD_PERFORMANCE;
    }
    return GUARD_OK;
}

#define TRY(call) do { int fault_ = (call); if (fault_ != GUARD_OK) return fault_; } while (0)
#define NEED(c, n) do { if (!has((c), (n))) return GUARD_SHORT; } while (0)
#define SKIP(c, n) do { NEED((c), (n)); (c)->p += (n); } while (0)

/* One interface entry of a device: checksum, performance, addresses. */
static int check_interface(cursor *c, int v2, unsigned flags, tl_addresses *a, uint16_t *transport, int *last) {
    NEED(c, 2);
    uint16_t sum = (uint16_t) read_le(c->p, 2);
    *transport = sum;
    c->p += 2;
    size_t attr_len = (v2 ? 8 : 16) + ((flags & UNPACK_TL_RSC_IDX) ? 1 : 0);
    NEED(c, attr_len + 1);
    TRY(check_perf(c, v2));
    c->p += attr_len;
    uint8_t length_byte = *c->p;
    *last = (length_byte & FLAG_LAST) != 0;
    TRY(byte_extended(c, IFACE_LEN_MASK, v2, &a->iface_len));
    a->iface = c->p;
    SKIP(c, a->iface_len);
    a->eps = 0;
    for (int more = (length_byte & FLAG_HAS_EP_ADDR) != 0; more;) {
        if (a->eps == MAX_LANES) {
            return GUARD_COUNT;
        }
        NEED(c, 1);
        unsigned ep_len = *c->p++;
        SKIP(c, ep_len);
        NEED(c, 1);
        if ((*c->p & IFACE_LEN_MASK) >= MAX_LANES) {
            return GUARD_INDEX;
        }
        more = !(*c->p & FLAG_LAST);
        c->p++;
        a->ep_lens[a->eps++] = ep_len;
    }
    return transport_ok(sum, a) ? GUARD_OK : GUARD_TRANSPORT;
}

int guard_address_walk(const uint8_t *address, size_t length, unsigned flags, interface_visitor visit,
                       void *context) {
    cursor c = {address, address + length};
    NEED(&c, 1);
    unsigned version = address[0] & 0x0fu;
    unsigned header;
    if (version == 0) {
        header = address[0] >> 4;
        c.p += 1;
    } else if (version == 1) {
        NEED(&c, 2);
        header = address[1];
        c.p += 2;
    } else {
        return GUARD_VERSION;
    }
    int v2 = version == 1;
    if (((flags & UNPACK_WORKER_UUID) && !v2) || (header & HEADER_WORKER_UUID)) {
        SKIP(&c, 8);
    }
    if (header & HEADER_CLIENT_ID) {
        SKIP(&c, 8);
    }
    if ((header & HEADER_DEBUG_INFO) && (flags & UNPACK_WORKER_NAME)) {
        NEED(&c, 1);
        unsigned name = *c.p++;
        SKIP(&c, name);
    }
    NEED(&c, 1);
    if (*c.p == NULL_RESOURCE) {
        return GUARD_OK;
    }
    unsigned entries = 0;
    for (unsigned devices = 0, last_device = 0; !last_device; devices++) {
        if (devices == MAX_DEVICES) {
            return GUARD_COUNT;
        }
        NEED(&c, 1);
        int empty = (*c.p & MD_EMPTY_DEV) != 0;
        unsigned md;
        TRY(byte_extended(&c, v2 ? MD_MASK_V2 : MD_MASK_V1, v2, &md));
        if (md >= MAX_MDS) {
            return GUARD_INDEX;
        }
        NEED(&c, 1);
        unsigned device_flags = *c.p & ~DEVICE_LEN_MASK;
        last_device = (device_flags & FLAG_LAST) != 0;
        tl_addresses a;
        TRY(byte_extended(&c, DEVICE_LEN_MASK, v2, &a.dev_len));
        if (device_flags & FLAG_NUM_PATHS) {
            NEED(&c, 1);
            if (*c.p++ == 0) {
                return GUARD_INDEX;
            }
        }
        if (device_flags & FLAG_SYS_DEVICE) {
            SKIP(&c, 1);
        }
        a.dev = c.p;
        SKIP(&c, a.dev_len);
        for (int last = empty; !last; entries++) {
            if (entries == MAX_ENTRIES) {
                return GUARD_COUNT;
            }
            uint16_t transport;
            TRY(check_interface(&c, v2, flags, &a, &transport, &last));
            if (visit != NULL) {
                visit(context, transport, &a);
            }
        }
    }
    return GUARD_OK;
}

/* Checks the worker address at [address, address + length) as ucp_address_unpack would read it with flags. */
int memreg_address_check(const uint8_t *address, size_t length, unsigned flags) {
    return guard_address_walk(address, length, flags, NULL, NULL);
}

/* Why memreg_address_check refused: a sentence fragment for an error message. */
const char *memreg_guard_reason(int fault) {
    return fault >= 0 && fault < GUARD_REASONS ? REASONS[fault] : "unknown";
}

/*
 * How far the check may read of an address UCX unpacks without its length (one inside a wire-up
 * message): as far as UCX itself reads, for the check walks the same structure and stops at the
 * first fault. The bound only ends the walk of a structure longer than any address.
 */
#define UNPACK_BOUND (64u << 10)

/* UCX 1.13.1's signature; ucp_worker_h and ucp_unpacked_address_t are opaque here. */
ucs_status_t ucp_address_unpack(void *worker, const void *buffer, unsigned flags, void *unpacked_address) {
    atomic_fetch_add_explicit(&unpacked, 1, memory_order_relaxed);
    if (real_unpack == NULL || memreg_address_check(buffer, UNPACK_BOUND, flags) != GUARD_OK) {
        atomic_fetch_add_explicit(&refused, 1, memory_order_relaxed);
        /* as UCX leaves it on a failure: uuid, a 32-byte name, a count and a list (ucp_unpacked_address) */
        uint8_t *out = unpacked_address;
        unsigned zero_count = 0;
        void *no_list = NULL;
        memcpy(out + 8 + 32, &zero_count, sizeof zero_count);
        memcpy(out + 8 + 32 + 8, &no_list, sizeof no_list);
        return UCS_ERR_INVALID_ADDR;
    }
    return real_unpack(worker, buffer, flags, unpacked_address);
}

/* Hands over libucp's own ucp_address_unpack; before this, nothing calls the one above. */
void memreg_guard_install(void *real) {
    real_unpack = (unpack_fn) real;
}

/* How many addresses UCX unpacked through the guard, and how many of them it refused. */
uint64_t memreg_guard_unpacked(void) {
    return atomic_load_explicit(&unpacked, memory_order_relaxed);
}

uint64_t memreg_guard_refused(void) {
    return atomic_load_explicit(&refused, memory_order_relaxed);
}
