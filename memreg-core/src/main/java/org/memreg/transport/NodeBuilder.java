package org.memreg.transport;

import static org.memreg.config.Settings.orElse;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.memreg.config.Settings;
import org.memreg.linux.MemInfo;
import org.memreg.linux.SysConf;

/**
 * Configures a {@link Node}; made by {@link Node#builder()}. Every setting starts from its
 * {@code memreg.transport.*} system property, else its default; {@link #build()} validates once.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>setter</th><th>property</th><th>default</th></tr>
 *   <tr><td>{@link #chunkBytes}</td><td>{@value #CHUNK_BYTES_PROP_NAME}</td><td>2 MiB: most bytes
 *       registered per rendezvous chunk</td></tr>
 *   <tr><td>{@link #eagerBytes}</td><td>{@value #EAGER_BYTES_PROP_NAME}</td><td>16 KiB: messages
 *       up to this size are copied (eager), larger ones go by rendezvous; at most
 *       {@link #MAX_EAGER_BYTES}</td></tr>
 *   <tr><td>{@link #pipelineDepth}</td><td>{@value #PIPELINE_DEPTH_PROP_NAME}</td><td>2 chunks in
 *       flight per message</td></tr>
 *   <tr><td>{@link #cacheBytes}</td><td>{@value #CACHE_BYTES_PROP_NAME}</td><td>32 MiB kept
 *       registered by the node's registration cache (chunks in flight may take more while they
 *       are in flight)</td></tr>
 *   <tr><td>{@link #timeout}</td><td>{@value #TIMEOUT_PROP_NAME} (ms)</td><td>30 s per send,
 *       rendezvous (its receive included), put, get, flush; a rendezvous that timed out fails
 *       only once UCX has let go of the caller's memory; a put or get fails its endpoint in
 *       error mode PEER, and in NONE is logged and waits for UCX</td></tr>
 *   <tr><td>{@link #connectTimeout}</td><td>{@value #CONNECT_TIMEOUT_PROP_NAME} (ms)</td><td>10 s</td></tr>
 *   <tr><td>{@link #errorMode}</td><td>{@value #ERROR_MODE_PROP_NAME}</td><td>none</td></tr>
 *   <tr><td>{@link #progressThread}</td><td>{@value #PROGRESS_THREAD_PROP_NAME}</td><td>true</td></tr>
 *   <tr><td>{@link #idleSpin}</td><td>{@value #IDLE_SPIN_PROP_NAME} (µs)</td><td>500: how long the
 *       progress thread spins after its last event before it sleeps on the worker's event
 *       descriptor (a message to a sleeping thread costs two thread wake-ups per side)</td></tr>
 *   <tr><td>{@link #waitSpin}</td><td>{@value #WAIT_SPIN_PROP_NAME} (µs)</td><td>2000: how long a
 *       thread blocked on a transport future ({@code get}, {@code join}) drives the worker itself,
 *       spinning, after the last event before it parks and leaves the worker to the progress
 *       thread (up to 8 times longer while waiters keep giving up just before their message
 *       comes); 0: waiters never drive (they park, the progress thread completes their futures)</td></tr>
 *   <tr><td>{@link #ucx}</td><td>{@value #NET_DEVICES_PROP_NAME} (UCX_NET_DEVICES)</td><td>UCX's
 *       own (environment)</td></tr>
 *   <tr><td>{@link #cacheRegistrations}</td><td>{@value #CACHE_PROP_NAME}</td><td>true; false
 *       registers and deregisters every chunk (for comparison)</td></tr>
 *   <tr><td>{@link #monitor}</td><td>{@value #MONITOR_PROP_NAME}</td><td>auto: the cache's
 *       registrations of user buffers are watched by UCM's hooks and userfaultfd where available,
 *       so a buffer freed and reallocated is registered anew (the modes of
 *       {@code memreg.cache.monitor}); none: the caller invalidates</td></tr>
 *   <tr><td>{@link #maxWindowBytes}</td><td>{@value #MAX_WINDOW_BYTES_PROP_NAME}</td><td>a quarter
 *       of physical memory: most bytes of windows the node allocates, together; a window is also
 *       refused when the machine has not that much memory available</td></tr>
 *   <tr><td>{@link #secret(String)}</td><td>{@value #SECRET_PROP_NAME}</td><td>none: the shared
 *       secret both sides of a connection must prove (at least 16 bytes); a system property is
 *       visible to other users in {@code ps}, so prefer the file</td></tr>
 *   <tr><td>{@link #secretFile}</td><td>{@value #SECRET_FILE_PROP_NAME}</td><td>none: a file
 *       holding the secret, readable by its owner only</td></tr>
 *   <tr><td>{@link #handshakeTimeout}</td><td>{@value #HANDSHAKE_TIMEOUT_PROP_NAME} (ms)</td><td>5 s:
 *       the listener drops a handshake not finished by then</td></tr>
 *   <tr><td>{@link #maxPendingHandshakes}</td><td>{@value #MAX_PENDING_HANDSHAKES_PROP_NAME}</td><td>64
 *       handshakes in progress at once; more connections are refused as busy (and tried again)</td></tr>
 *   <tr><td>{@link #connectionRate}</td><td>{@value #CONNECTION_RATE_PROP_NAME}</td><td>1,000 new
 *       connections a second from one source address (every process on this host is one source:
 *       127.0.0.1); more are refused as busy, and a memreg client tries again until its connect
 *       timeout</td></tr>
 *   <tr><td>{@link #maxPeers}</td><td>{@value #MAX_PEERS_PROP_NAME}</td><td>1,024 connections at
 *       once, accepted and made: beyond it {@code connect} throws, the listener refuses clients as
 *       busy, and a peer's UCX hello is dropped (with a warning)</td></tr>
 *   <tr><td>{@link #maxUnexpectedBytes}</td><td>{@value #MAX_UNEXPECTED_BYTES_PROP_NAME}</td><td>64 MiB or
 *       an eighth of the heap, the less: bytes of messages that arrived before a receive asked for
 *       them, held on the heap (with 160 bytes a message) until one does, and of the chunks of
 *       rendezvous messages that came before their receive, left in UCX for it (each at least
 *       16 KiB); beyond it a message is dropped, counted ({@link Node#droppedMessages()}) and
 *       reported in a warning, and a rendezvous message is refused, so that its send fails</td></tr>
 * </table>
 *
 * <p><b>Connections and trust.</b> A listening node accepts connections over plain TCP with
 * memreg's own handshake ({@link Handshake}): version and error mode must match, and with a
 * secret both sides prove it (HMAC-SHA-256 challenge and response) before the node sends its UCX
 * worker address. Only then does UCX see the peer.
 */
public final class NodeBuilder {
    public static final String CHUNK_BYTES_PROP_NAME = "memreg.transport.chunkBytes";
    public static final long CHUNK_BYTES_DEFAULT = 2L << 20;
    public static final String EAGER_BYTES_PROP_NAME = "memreg.transport.eagerBytes";
    public static final long EAGER_BYTES_DEFAULT = 16L << 10;
    /**
     * The largest eager message, a protocol limit: a receiver takes the first part of every message
     * (an eager message or a rendezvous header) into memory of its own, this large at most, and
     * copies it into the caller's buffer after, so that UCX never writes into a buffer its caller
     * may have freed meanwhile; rendezvous chunks go into the buffer itself.
     */
    public static final long MAX_EAGER_BYTES = 64L << 10;
    public static final String PIPELINE_DEPTH_PROP_NAME = "memreg.transport.pipelineDepth";
    public static final int PIPELINE_DEPTH_DEFAULT = 2;
    public static final String CACHE_BYTES_PROP_NAME = "memreg.transport.cacheBytes";
    public static final long CACHE_BYTES_DEFAULT = 32L << 20;
    public static final String TIMEOUT_PROP_NAME = "memreg.transport.timeout";
    public static final long TIMEOUT_DEFAULT_MS = 30_000;
    public static final String CONNECT_TIMEOUT_PROP_NAME = "memreg.transport.connectTimeout";
    public static final long CONNECT_TIMEOUT_DEFAULT_MS = 10_000;
    public static final String ERROR_MODE_PROP_NAME = "memreg.transport.errorMode";
    public static final ErrorMode ERROR_MODE_DEFAULT = ErrorMode.NONE;
    public static final String PROGRESS_THREAD_PROP_NAME = "memreg.transport.progressThread";
    public static final boolean PROGRESS_THREAD_DEFAULT = true;
    public static final String IDLE_SPIN_PROP_NAME = "memreg.transport.idleSpinMicros";
    public static final long IDLE_SPIN_DEFAULT_MICROS = 500;
    public static final String WAIT_SPIN_PROP_NAME = "memreg.transport.waitSpinMicros";
    public static final long WAIT_SPIN_DEFAULT_MICROS = 2000;
    public static final String NET_DEVICES_PROP_NAME = "memreg.transport.netDevices";
    public static final String CACHE_PROP_NAME = "memreg.transport.cache";
    public static final boolean CACHE_DEFAULT = true;
    public static final String MONITOR_PROP_NAME = "memreg.transport.monitor";
    public static final String MONITOR_DEFAULT = "auto";
    public static final String MAX_WINDOW_BYTES_PROP_NAME = "memreg.transport.maxWindowBytes";
    public static final String SECRET_PROP_NAME = "memreg.transport.secret";
    public static final String SECRET_FILE_PROP_NAME = "memreg.transport.secretFile";
    public static final String HANDSHAKE_TIMEOUT_PROP_NAME = "memreg.transport.handshakeTimeout";
    public static final long HANDSHAKE_TIMEOUT_DEFAULT_MS = 5_000;
    public static final String MAX_PENDING_HANDSHAKES_PROP_NAME = "memreg.transport.maxPendingHandshakes";
    public static final int MAX_PENDING_HANDSHAKES_DEFAULT = 64;
    public static final String CONNECTION_RATE_PROP_NAME = "memreg.transport.connectionRate";
    public static final int CONNECTION_RATE_DEFAULT = 1000;
    public static final String MAX_PEERS_PROP_NAME = "memreg.transport.maxPeers";
    public static final int MAX_PEERS_DEFAULT = 1024;
    public static final String MAX_UNEXPECTED_BYTES_PROP_NAME = "memreg.transport.maxUnexpectedBytes";

    /** The default of {@link #maxUnexpectedBytes}: 64 MiB, or an eighth of the heap where that is less. */
    public static long maxUnexpectedBytesDefault() {
        return Math.min(64L << 20, Runtime.getRuntime().maxMemory() / 8);
    }

    /** The default of {@link #maxWindowBytes}: a quarter of this machine's physical memory. */
    public static long maxWindowBytesDefault() {
        return MemInfo.totalBytes() / 4;
    }

    // null until a setter gives a value; build() fills the rest from their properties, else defaults
    Long chunkBytes;
    Long eagerBytes;
    Integer pipelineDepth;
    Long cacheBytes;
    Duration timeout;
    Duration connectTimeout;
    ErrorMode errorMode;
    Boolean progressThread;
    Duration idleSpin;
    Duration waitSpin;
    /** Not a setting: tests shorten or lengthen it ({@link #asidePark(Duration)}). */
    Duration asidePark = Duration.ofNanos(ProgressEngine.ASIDE_PARK_NANOS);
    Boolean cacheRegistrations;
    String monitor;
    Long maxWindowBytes;
    Secret secret;
    boolean secretSet;
    Duration handshakeTimeout;
    Integer maxPendingHandshakes;
    Integer connectionRate;
    Integer maxPeers;
    Long maxUnexpectedBytes;
    final Map<String, String> ucx = new LinkedHashMap<>();
    InetSocketAddress listen;
    String name = "node";

    NodeBuilder() {
    }

    /** Listens for connections on {@code address} (port 0 picks a free port; see {@link Node#port()}). */
    public NodeBuilder listen(InetSocketAddress address) {
        this.listen = Objects.requireNonNull(address, "address");
        return this;
    }

    /** Most bytes registered per rendezvous chunk: a multiple of the page size, checked by {@link #build()}. */
    public NodeBuilder chunkBytes(long bytes) {
        this.chunkBytes = bytes;
        return this;
    }

    /** Largest message sent eagerly (copied), at most {@link #MAX_EAGER_BYTES}; larger ones go by rendezvous. */
    public NodeBuilder eagerBytes(long bytes) {
        this.eagerBytes = bytes;
        return this;
    }

    /** Chunks in flight per rendezvous message. */
    public NodeBuilder pipelineDepth(int chunks) {
        this.pipelineDepth = chunks;
        return this;
    }

    /**
     * Most bytes the node's registration cache keeps registered (unused entries are evicted). A
     * soft limit: when chunks in flight hold it all, more chunks are registered beyond it rather
     * than wait (which could deadlock with a peer) or fail, within the device's own limit.
     */
    public NodeBuilder cacheBytes(long bytes) {
        this.cacheBytes = bytes;
        return this;
    }

    /** The memory monitor of the node's registration cache, a {@link org.memreg.monitor.MonitorMode} such as {@code auto}. */
    public NodeBuilder monitor(String monitor) {
        this.monitor = Objects.requireNonNull(monitor, "monitor");
        return this;
    }

    /** Whether chunk registrations are cached (true) or made and dropped per chunk (false). */
    public NodeBuilder cacheRegistrations(boolean cache) {
        this.cacheRegistrations = cache;
        return this;
    }

    /**
     * Time limit of every send, rendezvous, put, get and flush. A rendezvous send waits within it
     * for its receiver to post the receive and take the whole message.
     */
    public NodeBuilder timeout(Duration timeout) {
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        return this;
    }

    /** Time limit of {@link Node#connect}. */
    public NodeBuilder connectTimeout(Duration timeout) {
        this.connectTimeout = Objects.requireNonNull(timeout, "timeout");
        return this;
    }

    /** UCX's error handling for this node's endpoints. */
    public NodeBuilder errorMode(ErrorMode mode) {
        this.errorMode = Objects.requireNonNull(mode, "mode");
        return this;
    }

    /** True: a daemon thread progresses the worker; false: the caller does, with {@link Node#progress()}. */
    public NodeBuilder progressThread(boolean thread) {
        this.progressThread = thread;
        return this;
    }

    /** How long the progress thread spins without events before it sleeps (zero: sleeps at once). */
    public NodeBuilder idleSpin(Duration spin) {
        this.idleSpin = Objects.requireNonNull(spin, "spin");
        return this;
    }

    /**
     * How long a thread blocked on a transport future drives the worker, spinning, without events
     * before it parks (zero: waiters never drive; the progress thread completes their futures).
     * The spin doubles, up to 8 times this, each time a waiter that gave up got its future sooner
     * than the spin after, and comes back to this after a wait longer than the longest spin.
     * Without a progress thread a waiter drives until its future is done, whatever this says.
     */
    public NodeBuilder waitSpin(Duration spin) {
        this.waitSpin = Objects.requireNonNull(spin, "spin");
        return this;
    }

    /**
     * For tests: the longest park of the progress thread while a waiter drives (what ends it
     * sooner is then all that brings the thread back).
     */
    NodeBuilder asidePark(Duration park) {
        this.asidePark = Objects.requireNonNull(park, "park");
        return this;
    }

    /** Sets a UCX configuration variable (name without {@code UCX_}), such as {@code NET_DEVICES=lo}. */
    public NodeBuilder ucx(String name, String value) {
        ucx.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, "value"));
        return this;
    }

    /** A name for thread names and messages. */
    public NodeBuilder name(String name) {
        this.name = Objects.requireNonNull(name, "name");
        return this;
    }

    /** Most bytes of windows this node allocates ({@link Node#allocateWindow}), all together. */
    public NodeBuilder maxWindowBytes(long bytes) {
        this.maxWindowBytes = bytes;
        return this;
    }

    /** The shared secret connections must prove (UTF-8, at least 16 bytes); null for none. */
    public NodeBuilder secret(String secret) {
        this.secret = secret == null ? null : Secret.of(secret);
        this.secretSet = true;
        return this;
    }

    /** Reads the shared secret from {@code file}, which only its owner may read (chmod 600). */
    public NodeBuilder secretFile(Path file) {
        this.secret = Secret.fromFile(Objects.requireNonNull(file, "file"));
        this.secretSet = true;
        return this;
    }

    /** How long the listener gives a client to finish the handshake. */
    public NodeBuilder handshakeTimeout(Duration timeout) {
        this.handshakeTimeout = Objects.requireNonNull(timeout, "timeout");
        return this;
    }

    /** Most handshakes the listener runs at once. */
    public NodeBuilder maxPendingHandshakes(int handshakes) {
        this.maxPendingHandshakes = handshakes;
        return this;
    }

    /** Most connections the node holds at once, accepted and made; see the class comment. */
    public NodeBuilder maxPeers(int connections) {
        this.maxPeers = connections;
        return this;
    }

    /** Most bytes of messages held for receives not yet posted; see the class comment. */
    public NodeBuilder maxUnexpectedBytes(long bytes) {
        this.maxUnexpectedBytes = bytes;
        return this;
    }

    /** Most new connections a second the listener takes from one source address. */
    public NodeBuilder connectionRate(int perSecond) {
        this.connectionRate = perSecond;
        return this;
    }

    /**
     * The UCX configuration the node's context gets: what was set with {@link #ucx}, and, unless
     * set there or in the environment:
     * <ul>
     *   <li>{@code ALLOC_PRIO=md:sysv,mmap}. UCX's default falls back from a SysV segment to a
     *       POSIX one, which it first fills byte by byte to test that /dev/shm can hold it: a
     *       window larger than memory filled /dev/shm and RAM until the OOM killer came, and left
     *       the file behind. Plain mmap is the fallback for contexts without shared-memory
     *       transports.
     *   <li>{@code TLS=^posix}: every transport but UCX's POSIX shared memory. With it this
     *       process maps a peer's POSIX segments (its receive queue, a window's memory) from files
     *       the peer can shrink, and a write past a shrunk end killed this process with SIGBUS.
     *       SysV segments (the {@code sysv} transport, which takes its place) cannot shrink.
     *   <li>{@code MAX_RNDV_RAILS=1}, where the rendezvous is by put ({@code RNDV_SCHEME=put_zcopy},
     *       set here or in the environment). UCX 1.13 then used a second rail, a TCP lane, and a
     *       node that closed while a wireup request on it waited on a peer that never progressed
     *       aborted the process (an assertion on the pending request in {@code
     *       ucp_worker_destroy}; with one rail, never). Within a host one rail moved as much.
     * </ul>
     */
    Map<String, String> ucxSettings() {
        Map<String, String> settings = new LinkedHashMap<>(ucx);
        if (System.getenv("UCX_ALLOC_PRIO") == null) {
            settings.putIfAbsent("ALLOC_PRIO", "md:sysv,mmap");
        }
        if (System.getenv("UCX_TLS") == null) {
            settings.putIfAbsent("TLS", "^posix");
        }
        String scheme = settings.getOrDefault("RNDV_SCHEME", System.getenv("UCX_RNDV_SCHEME"));
        if ("put_zcopy".equals(scheme) && System.getenv("UCX_MAX_RNDV_RAILS") == null) {
            settings.putIfAbsent("MAX_RNDV_RAILS", "1");
        }
        return settings;
    }

    /**
     * Every setting no setter gave comes from its property, else its default: read here, so that
     * a bad property fails {@link #build()}, naming itself and its value.
     */
    private void resolveProperties() {
        chunkBytes = orElse(chunkBytes, () -> Settings.bytes(CHUNK_BYTES_PROP_NAME, CHUNK_BYTES_DEFAULT));
        eagerBytes = orElse(eagerBytes, () -> Settings.bytes(EAGER_BYTES_PROP_NAME, EAGER_BYTES_DEFAULT));
        pipelineDepth = orElse(pipelineDepth, () -> intValue(PIPELINE_DEPTH_PROP_NAME, PIPELINE_DEPTH_DEFAULT));
        cacheBytes = orElse(cacheBytes, () -> Settings.bytes(CACHE_BYTES_PROP_NAME, CACHE_BYTES_DEFAULT));
        timeout = orElse(timeout, () -> millis(TIMEOUT_PROP_NAME, TIMEOUT_DEFAULT_MS));
        connectTimeout = orElse(connectTimeout, () -> millis(CONNECT_TIMEOUT_PROP_NAME, CONNECT_TIMEOUT_DEFAULT_MS));
        errorMode = orElse(errorMode, () -> Settings.enumValue(ERROR_MODE_PROP_NAME, ERROR_MODE_DEFAULT));
        progressThread = orElse(progressThread, () -> Settings.bool(PROGRESS_THREAD_PROP_NAME, PROGRESS_THREAD_DEFAULT));
        idleSpin = orElse(idleSpin,
                () -> Duration.of(Settings.longValue(IDLE_SPIN_PROP_NAME, IDLE_SPIN_DEFAULT_MICROS), ChronoUnit.MICROS));
        waitSpin = orElse(waitSpin,
                () -> Duration.of(Settings.longValue(WAIT_SPIN_PROP_NAME, WAIT_SPIN_DEFAULT_MICROS), ChronoUnit.MICROS));
        cacheRegistrations = orElse(cacheRegistrations, () -> Settings.bool(CACHE_PROP_NAME, CACHE_DEFAULT));
        monitor = orElse(monitor, () -> System.getProperty(MONITOR_PROP_NAME, MONITOR_DEFAULT));
        maxWindowBytes = orElse(maxWindowBytes, () -> Settings.bytes(MAX_WINDOW_BYTES_PROP_NAME, maxWindowBytesDefault()));
        if (!secretSet) {
            secret = secretProperty();
            secretSet = true;
        }
        handshakeTimeout = orElse(handshakeTimeout, () -> millis(HANDSHAKE_TIMEOUT_PROP_NAME, HANDSHAKE_TIMEOUT_DEFAULT_MS));
        maxPendingHandshakes = orElse(maxPendingHandshakes,
                () -> intValue(MAX_PENDING_HANDSHAKES_PROP_NAME, MAX_PENDING_HANDSHAKES_DEFAULT));
        connectionRate = orElse(connectionRate, () -> intValue(CONNECTION_RATE_PROP_NAME, CONNECTION_RATE_DEFAULT));
        maxPeers = orElse(maxPeers, () -> intValue(MAX_PEERS_PROP_NAME, MAX_PEERS_DEFAULT));
        maxUnexpectedBytes = orElse(maxUnexpectedBytes,
                () -> Settings.bytes(MAX_UNEXPECTED_BYTES_PROP_NAME, maxUnexpectedBytesDefault()));
        String devices = System.getProperty(NET_DEVICES_PROP_NAME);
        if (devices != null) {
            ucx.putIfAbsent("NET_DEVICES", devices); // ucx("NET_DEVICES", ...) wins
        }
    }

    private static Duration millis(String property, long defaultMillis) {
        return Duration.ofMillis(Settings.longValue(property, defaultMillis));
    }

    private static int intValue(String property, int defaultValue) {
        long value = Settings.longValue(property, defaultValue);
        if (value != (int) value) {
            throw new IllegalArgumentException(property + "=" + System.getProperty(property) + " is out of range");
        }
        return (int) value;
    }

    private static Secret secretProperty() {
        String file = System.getProperty(SECRET_FILE_PROP_NAME);
        String text = System.getProperty(SECRET_PROP_NAME);
        if (file != null && text != null) {
            throw new IllegalArgumentException("set " + SECRET_PROP_NAME + " or " + SECRET_FILE_PROP_NAME + ", not both");
        }
        return file != null ? Secret.fromFile(Path.of(file)) : text != null ? Secret.of(text) : null;
    }

    /**
     * Reads the properties of the settings no setter gave, validates everything and starts the node.
     *
     * @throws IllegalArgumentException naming the setting (and the property and its value) that is wrong
     */
    public Node build() {
        resolveProperties();
        long page = SysConf.pageSize(); // a chunk is registered whole: whole pages, or it would pin its neighbours'
        require(chunkBytes >= page && chunkBytes % page == 0, "chunkBytes must be a positive multiple of the page size ("
                + page + "): " + chunkBytes);
        require(eagerBytes >= 32 && eagerBytes <= Math.min(chunkBytes, MAX_EAGER_BYTES),
                "eagerBytes must be in [32, min(chunkBytes, " + MAX_EAGER_BYTES + ")]: " + eagerBytes);
        require(pipelineDepth >= 1 && pipelineDepth <= 64, "pipelineDepth must be in [1, 64]: " + pipelineDepth);
        require(cacheBytes >= pipelineDepth * (chunkBytes + 2 * page), "cacheBytes must hold pipelineDepth chunks: "
                + cacheBytes);
        require(!timeout.isNegative() && !timeout.isZero(), "timeout must be positive");
        require(!connectTimeout.isNegative() && !connectTimeout.isZero(), "connectTimeout must be positive");
        require(!idleSpin.isNegative() && idleSpin.compareTo(Duration.ofSeconds(1)) <= 0,
                "idleSpin must be in [0, 1 s]: " + idleSpin);
        require(!waitSpin.isNegative() && waitSpin.compareTo(Duration.ofSeconds(1)) <= 0,
                "waitSpin must be in [0, 1 s]: " + waitSpin);
        require(maxWindowBytes > 0, "maxWindowBytes must be positive: " + maxWindowBytes);
        require(!handshakeTimeout.isNegative() && !handshakeTimeout.isZero(), "handshakeTimeout must be positive");
        require(maxPendingHandshakes >= 1 && maxPendingHandshakes <= 65_536,
                "maxPendingHandshakes must be in [1, 65536]: " + maxPendingHandshakes);
        require(connectionRate >= 1, "connectionRate must be at least 1 a second: " + connectionRate);
        require(maxPeers >= 1 && maxPeers <= 1 << 20, "maxPeers must be in [1, 1048576]: " + maxPeers);
        require(maxUnexpectedBytes >= 0, "maxUnexpectedBytes must not be negative: " + maxUnexpectedBytes);
        return new Node(this);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
