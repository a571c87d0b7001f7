/*
 * What memreg's two guards over UCX 1.13 share (one library, libmemreg-ucx-guard.so): the walk
 * over a worker address (memreg_address_guard.c), which the TCP guard (memreg_tcp_guard.c) uses
 * to find the TCP listeners an address names. Nothing here is exported from the library.
 */
#ifndef MEMREG_UCX_GUARD_H
#define MEMREG_UCX_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define GUARD_HIDDEN __attribute__((visibility("hidden")))
#define GUARD_MAX_LANES 6 /* UCP_MAX_LANES */
#define GUARD_AF_INET 2
#define GUARD_AF_INET6 10
#define GUARD_TCP_LOOPBACK 0x1u /* uct_tcp_device_addr_t flag: a local id follows, not an IP address */

typedef int8_t ucs_status_t; /* a packed enum: one signed byte */
#define UCS_OK 0
#define UCS_ERR_NO_MEMORY (-4)
#define UCS_ERR_INVALID_ADDR (-7)
#define UCS_ERR_NO_PROGRESS (-10)
#define UCS_ERR_TIMED_OUT (-20)
#define UCS_ERR_UNSUPPORTED (-22)
#define UCS_ERR_NOT_CONNECTED (-24)
#define UCS_ERR_CONNECTION_RESET (-25)

/* One interface of a worker address: its transport's device, interface and endpoint addresses. */
typedef struct {
    const uint8_t *dev;
    unsigned dev_len;
    const uint8_t *iface;
    unsigned iface_len;
    unsigned ep_lens[GUARD_MAX_LANES];
    unsigned eps;
} tl_addresses;

/* Called for each interface of an address that passed its checks; transport is UCX's name sum. */
typedef void (*interface_visitor)(void *context, uint16_t transport, const tl_addresses *interface);

/* memreg_address_check that also hands every interface to visit (which may be NULL). */
GUARD_HIDDEN int guard_address_walk(const uint8_t *address, size_t length, unsigned flags, interface_visitor visit,
                                    void *context);

/* UCX's checksum of a transport's name, as its addresses carry it. */
GUARD_HIDDEN uint16_t guard_name_sum(const char *name);

#endif
