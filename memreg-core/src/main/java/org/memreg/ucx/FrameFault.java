package org.memreg.ucx;

/**
 * What the TCP guard found wrong with a frame on a guarded connection, and ended the connection
 * for ({@code memreg_tcp_frames.c}; in the order of its {@code FRAME_} codes).
 */
enum FrameFault {
    /** Any of the others. */
    ANY,
    /** The stream did not open with UCX's magic number. */
    BAD_MAGIC,
    /** A frame longer than UCX's receive buffer. */
    TOO_LONG,
    /** A frame on an accepted stream before its connection request. */
    BEFORE_REQUEST,
    /** A kind of frame UCX does not know. */
    BAD_ID,
    /** A connection-manager event UCX does not know, or not of its length. */
    BAD_EVENT,
    /** A connection request out of place, or not of its form. */
    BAD_REQUEST,
    /** A put request or acknowledgement not of its form, or an acknowledgement no put awaits. */
    BAD_PUT,
    /** UCP's software put or get request not of its form (short, or not of host memory). */
    BAD_RMA,
    /** A put into memory not exposed to peers for writing ({@link ExposedMemory}). */
    UNEXPOSED_WRITE,
    /** A get from memory not exposed to peers for reading ({@link ExposedMemory}). */
    UNEXPOSED_READ,
    /**
     * A UCP message naming an endpoint or request of this process's by a direct id (an address
     * UCP would follow; {@link UcxContext} has UCP issue only indirect ids), or too short to name one.
     */
    DIRECT_ID,
    /** A UCP wire-up message of a type UCP does not know, or naming no endpoint where UCP asserts one. */
    BAD_WIREUP,
    /**
     * A UCP message of a kind memreg never sends (eager sync, tag offload, stream, atomics, the
     * active-message API, ids UCP does not use), whose handlers assert on what it says.
     */
    UNUSED_KIND,
    /** A UCP message not of the form UCP asserts it has (a rendezvous RTS short of its headers, or not a tag one). */
    BAD_MESSAGE
}
