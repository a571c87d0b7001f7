/*
 * Prints sizeof/offsetof of every UCX 1.13 struct that org.memreg.ucx lays out by hand, one
 * "struct.field=offset" (and "struct=size") a line, then the value of every UCX constant that
 * org.memreg.ucx.Ucp copies ("const.UCS_ERR_BUSY=-15"). UcxLayoutTest compiles and runs this with
 * gcc and compares each line with the Java layouts and constants. Build: gcc -o ucx-layout ucx-layout.c
 */
#include <stddef.h>
#include <stdio.h>
#include <ucp/api/ucp.h>

#define SIZE(t) printf("%s=%zu\n", #t, sizeof(t))
#define OFF(t, f) printf("%s.%s=%zu\n", #t, #f, offsetof(t, f))
#define CONST(c) printf("const.%s=%lld\n", #c, (long long) (c))

int main(void) {
    SIZE(ucp_params_t);
    OFF(ucp_params_t, field_mask); OFF(ucp_params_t, features); OFF(ucp_params_t, request_size);
    OFF(ucp_params_t, request_init); OFF(ucp_params_t, request_cleanup);
    OFF(ucp_params_t, tag_sender_mask); OFF(ucp_params_t, mt_workers_shared);
    OFF(ucp_params_t, estimated_num_eps); OFF(ucp_params_t, estimated_num_ppn); OFF(ucp_params_t, name);

    SIZE(ucp_worker_params_t);
    OFF(ucp_worker_params_t, field_mask); OFF(ucp_worker_params_t, thread_mode);
    OFF(ucp_worker_params_t, cpu_mask); OFF(ucp_worker_params_t, events);
    OFF(ucp_worker_params_t, user_data); OFF(ucp_worker_params_t, event_fd);
    OFF(ucp_worker_params_t, flags); OFF(ucp_worker_params_t, name);
    OFF(ucp_worker_params_t, am_alignment); OFF(ucp_worker_params_t, client_id);

    SIZE(ucs_sock_addr_t);
    OFF(ucs_sock_addr_t, addr); OFF(ucs_sock_addr_t, addrlen);

    SIZE(ucp_ep_params_t);
    OFF(ucp_ep_params_t, field_mask); OFF(ucp_ep_params_t, address); OFF(ucp_ep_params_t, err_mode);
    OFF(ucp_ep_params_t, err_handler); OFF(ucp_ep_params_t, user_data); OFF(ucp_ep_params_t, flags);
    OFF(ucp_ep_params_t, sockaddr); OFF(ucp_ep_params_t, conn_request); OFF(ucp_ep_params_t, name);
    OFF(ucp_ep_params_t, local_sockaddr);

    SIZE(ucp_err_handler_t);
    OFF(ucp_err_handler_t, cb); OFF(ucp_err_handler_t, arg);

    SIZE(ucp_mem_map_params_t);
    OFF(ucp_mem_map_params_t, field_mask); OFF(ucp_mem_map_params_t, address);
    OFF(ucp_mem_map_params_t, length); OFF(ucp_mem_map_params_t, flags);
    OFF(ucp_mem_map_params_t, prot); OFF(ucp_mem_map_params_t, memory_type);

    SIZE(ucp_mem_attr_t);
    OFF(ucp_mem_attr_t, field_mask); OFF(ucp_mem_attr_t, address); OFF(ucp_mem_attr_t, length);
    OFF(ucp_mem_attr_t, mem_type);

    SIZE(ucp_request_param_t);
    OFF(ucp_request_param_t, op_attr_mask); OFF(ucp_request_param_t, flags);
    OFF(ucp_request_param_t, request); OFF(ucp_request_param_t, cb);
    OFF(ucp_request_param_t, datatype); OFF(ucp_request_param_t, user_data);
    OFF(ucp_request_param_t, reply_buffer); OFF(ucp_request_param_t, memory_type);
    OFF(ucp_request_param_t, recv_info); OFF(ucp_request_param_t, memh);

    SIZE(ucp_tag_recv_info_t);
    OFF(ucp_tag_recv_info_t, sender_tag); OFF(ucp_tag_recv_info_t, length);

    CONST(UCS_OK); CONST(UCS_INPROGRESS); CONST(UCS_ERR_BUSY); CONST(UCS_ERR_NO_MESSAGE);
    CONST(UCS_ERR_NO_RESOURCE); CONST(UCS_ERR_IO_ERROR); CONST(UCS_ERR_NO_MEMORY);
    CONST(UCS_ERR_INVALID_PARAM); CONST(UCS_ERR_UNREACHABLE); CONST(UCS_ERR_MESSAGE_TRUNCATED);
    CONST(UCS_ERR_CANCELED); CONST(UCS_ERR_OUT_OF_RANGE); CONST(UCS_ERR_TIMED_OUT);
    CONST(UCS_ERR_EXCEEDS_LIMIT);
    CONST(UCS_ERR_REJECTED); CONST(UCS_ERR_NOT_CONNECTED); CONST(UCS_ERR_CONNECTION_RESET);
    CONST(UCS_ERR_ENDPOINT_TIMEOUT);
    CONST(UCP_FEATURE_TAG); CONST(UCP_FEATURE_RMA); CONST(UCP_FEATURE_WAKEUP);
    CONST(UCS_THREAD_MODE_SINGLE); CONST(UCS_THREAD_MODE_SERIALIZED); CONST(UCS_THREAD_MODE_MULTI);
    CONST(UCP_ERR_HANDLING_MODE_NONE); CONST(UCP_ERR_HANDLING_MODE_PEER);
    CONST(UCP_MEM_MAP_NONBLOCK); CONST(UCP_MEM_MAP_ALLOCATE);
    CONST(UCP_MEM_MAP_PROT_LOCAL_READ); CONST(UCP_MEM_MAP_PROT_LOCAL_WRITE);
    CONST(UCP_MEM_MAP_PROT_REMOTE_READ); CONST(UCP_MEM_MAP_PROT_REMOTE_WRITE);
    CONST(UCP_EP_CLOSE_FLAG_FORCE);
    CONST(UCP_OP_ATTR_FIELD_FLAGS); CONST(UCP_OP_ATTR_FIELD_RECV_INFO); CONST(UCP_OP_ATTR_FIELD_MEMH);
    CONST(UCP_OP_ATTR_FLAG_NO_IMM_CMPL); CONST(UCP_OP_ATTR_FLAG_FORCE_IMM_CMPL);
    CONST(UCP_PARAM_FIELD_FEATURES); CONST(UCP_PARAM_FIELD_MT_WORKERS_SHARED); CONST(UCP_PARAM_FIELD_NAME);
    CONST(UCP_WORKER_PARAM_FIELD_THREAD_MODE);
    CONST(UCP_EP_PARAM_FIELD_REMOTE_ADDRESS); CONST(UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE);
    CONST(UCP_EP_PARAM_FIELD_ERR_HANDLER);
    CONST(UCP_MEM_MAP_PARAM_FIELD_ADDRESS); CONST(UCP_MEM_MAP_PARAM_FIELD_LENGTH);
    CONST(UCP_MEM_MAP_PARAM_FIELD_FLAGS); CONST(UCP_MEM_MAP_PARAM_FIELD_PROT);
    CONST(UCP_MEM_ATTR_FIELD_ADDRESS); CONST(UCP_MEM_ATTR_FIELD_LENGTH);

    return 0;
}
