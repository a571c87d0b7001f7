package org.memreg.ucx;

import static java.lang.foreign.MemoryLayout.paddingLayout;
import static java.lang.foreign.MemoryLayout.sequenceLayout;
import static java.lang.foreign.MemoryLayout.structLayout;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.List;

/**
 * The UCX 1.13 parameter structs memreg fills, laid out by hand from {@code ucp.h} and
 * {@code ucp_def.h} (x86-64 / aarch64 LP64). Field names are the C names. {@code UcxLayoutTest}
 * compiles {@code src/test/native/ucx-layout.c} and checks every size and offset here against
 * gcc's: these layouts are the dangerous part of the binding.
 *
 * <p>Pointers and {@code size_t} are {@code JAVA_LONG}; enums and {@code unsigned} are
 * {@code JAVA_INT}. Only fields memreg sets are named in field masks; the others stay zero.
 */
final class UcxLayouts {
    private UcxLayouts() {
    }

    static final StructLayout PARAMS = structLayout(
            JAVA_LONG.withName("field_mask"), JAVA_LONG.withName("features"),
            JAVA_LONG.withName("request_size"), JAVA_LONG.withName("request_init"),
            JAVA_LONG.withName("request_cleanup"), JAVA_LONG.withName("tag_sender_mask"),
            JAVA_INT.withName("mt_workers_shared"), paddingLayout(4),
            JAVA_LONG.withName("estimated_num_eps"), JAVA_LONG.withName("estimated_num_ppn"),
            JAVA_LONG.withName("name")).withName("ucp_params_t");

    static final StructLayout WORKER_PARAMS = structLayout(
            JAVA_LONG.withName("field_mask"), JAVA_INT.withName("thread_mode"), paddingLayout(4),
            sequenceLayout(128, JAVA_BYTE).withName("cpu_mask"), JAVA_INT.withName("events"), paddingLayout(4),
            JAVA_LONG.withName("user_data"), JAVA_INT.withName("event_fd"), paddingLayout(4),
            JAVA_LONG.withName("flags"), JAVA_LONG.withName("name"), JAVA_LONG.withName("am_alignment"),
            JAVA_LONG.withName("client_id")).withName("ucp_worker_params_t");

    static final StructLayout SOCK_ADDR = structLayout(
            JAVA_LONG.withName("addr"), JAVA_INT.withName("addrlen"), paddingLayout(4)).withName("ucs_sock_addr_t");

    static final StructLayout HANDLER = structLayout(JAVA_LONG.withName("cb"), JAVA_LONG.withName("arg"));
    static final StructLayout ERR_HANDLER = HANDLER.withName("ucp_err_handler_t");

    static final StructLayout EP_PARAMS = structLayout(
            JAVA_LONG.withName("field_mask"), JAVA_LONG.withName("address"),
            JAVA_INT.withName("err_mode"), paddingLayout(4), HANDLER.withName("err_handler"),
            JAVA_LONG.withName("user_data"), JAVA_INT.withName("flags"), paddingLayout(4),
            SOCK_ADDR.withName("sockaddr"), JAVA_LONG.withName("conn_request"), JAVA_LONG.withName("name"),
            SOCK_ADDR.withName("local_sockaddr")).withName("ucp_ep_params_t");

    static final StructLayout MEM_MAP_PARAMS = structLayout(
            JAVA_LONG.withName("field_mask"), JAVA_LONG.withName("address"), JAVA_LONG.withName("length"),
            JAVA_INT.withName("flags"), JAVA_INT.withName("prot"), JAVA_INT.withName("memory_type"),
            paddingLayout(4)).withName("ucp_mem_map_params_t");

    static final StructLayout MEM_ATTR = structLayout(
            JAVA_LONG.withName("field_mask"), JAVA_LONG.withName("address"), JAVA_LONG.withName("length"),
            JAVA_INT.withName("mem_type"), paddingLayout(4)).withName("ucp_mem_attr_t");

    static final StructLayout REQUEST_PARAM = structLayout(
            JAVA_INT.withName("op_attr_mask"), JAVA_INT.withName("flags"), JAVA_LONG.withName("request"),
            JAVA_LONG.withName("cb"), JAVA_LONG.withName("datatype"), JAVA_LONG.withName("user_data"),
            JAVA_LONG.withName("reply_buffer"), JAVA_INT.withName("memory_type"), paddingLayout(4),
            JAVA_LONG.withName("recv_info"), JAVA_LONG.withName("memh")).withName("ucp_request_param_t");

    static final StructLayout TAG_RECV_INFO = structLayout(
            JAVA_LONG.withName("sender_tag"), JAVA_LONG.withName("length")).withName("ucp_tag_recv_info_t");

    /** Every layout above, for the layout test. */
    static final List<StructLayout> ALL = List.of(PARAMS, WORKER_PARAMS, SOCK_ADDR, ERR_HANDLER, EP_PARAMS,
            MEM_MAP_PARAMS, MEM_ATTR, REQUEST_PARAM, TAG_RECV_INFO);

    /** Byte offset of {@code field} in {@code layout}. */
    static long offset(MemoryLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    /** Writes a long field. */
    static void putLong(MemorySegment struct, StructLayout layout, String field, long value) {
        struct.set(JAVA_LONG, offset(layout, field), value);
    }

    /** Writes an int field. */
    static void putInt(MemorySegment struct, StructLayout layout, String field, int value) {
        struct.set(JAVA_INT, offset(layout, field), value);
    }

    /** Reads a long field. */
    static long getLong(MemorySegment struct, StructLayout layout, String field) {
        return struct.get(JAVA_LONG, offset(layout, field));
    }
}
