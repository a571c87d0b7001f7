package org.memreg.jmh.peers;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.HdrHistogram.Histogram;

/**
 * Netty 4.2 over loopback TCP with the native epoll transport (java.nio when its library does not
 * load: {@link #transport()} says which ran), running {@link PeerBench}'s protocol the Netty way:
 * in the event loop's handlers, one event-loop thread per side. Each message is a write of a
 * duplicate of one direct buffer (no user-space copy; the kernel copies into the socket); the
 * receiver checksums every read buffer in place, at its position in the message.
 */
final class NettyPeer {
    private NettyPeer() {
    }

    static String transport() {
        return Epoll.isAvailable() ? "epoll" : "nio (" + Epoll.unavailabilityCause() + ")";
    }

    private static IoHandlerFactory handlers() {
        return Epoll.isAvailable() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    }

    /** Serves one client: echoes each 8-byte message (lat), or acknowledges each phase with its checksum (bw). */
    static void serve(boolean lat, int size, int warmup, int iters, Consumer<String> announce) throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, handlers());
        CompletableFuture<Void> done = new CompletableFuture<>();
        try {
            Class<? extends ServerChannel> type = Epoll.isAvailable() ? EpollServerSocketChannel.class
                    : NioServerSocketChannel.class;
            Channel server = new ServerBootstrap().group(group).channel(type)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new Sink(lat, size, lat ? 1 : warmup, lat ? warmup + iters : iters, done));
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            announce.accept("port=" + ((java.net.InetSocketAddress) server.localAddress()).getPort());
            done.get();
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
        }
    }

    /**
     * Receiver: sums the bytes of each message; after {@code first} messages, then after every
     * {@code rest} messages, writes the sum (8 bytes) back and starts again. With lat, first = 1 and
     * the echo of each ping is its value.
     */
    private static final class Sink extends ChannelInboundHandlerAdapter {
        private final int size;
        private final long[] phases;
        private final CompletableFuture<Void> done;
        private int phase;
        private long position, messages, sum;

        Sink(boolean lat, int size, int first, int rest, CompletableFuture<Void> done) {
            this.size = size;
            this.phases = lat ? repeat(rest) : new long[] {first, rest};
            this.done = done;
        }

        private static long[] repeat(int n) {
            long[] ones = new long[n];
            java.util.Arrays.fill(ones, 1);
            return ones;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                int at = buf.readerIndex();
                int left = buf.readableBytes();
                while (left > 0) {
                    int piece = (int) Math.min(left, size - position);
                    sum = Checksum.of(buf, at, piece, position, sum);
                    at += piece;
                    left -= piece;
                    position += piece;
                    if (position == size) {
                        position = 0;
                        if (++messages == phases[phase]) {
                            ctx.writeAndFlush(ctx.alloc().directBuffer(8).writeLongLE(sum));
                            messages = 0;
                            sum = 0;
                            if (++phase == phases.length) {
                                done.complete(null);
                            }
                        }
                    }
                }
            } finally {
                buf.release();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done.completeExceptionally(cause);
            ctx.close();
        }
    }

    /** The client's side; fills {@code result} like {@link PeerBench#client}. */
    static void run(String info, boolean lat, boolean fresh, int size, int warmup, int iters, Result result)
            throws Exception {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, handlers());
        try {
            Bytes out = Bytes.allocate(size);
            long expected = out.fill(size, 42);
            ByteBuf data = Unpooled.wrappedBuffer(out.buffer().duplicate().clear().limit(size)); // the native buffer itself
            Source source = new Source(lat, fresh, data, expected, warmup, iters, result);
            Class<? extends Channel> type = Epoll.isAvailable() ? EpollSocketChannel.class : NioSocketChannel.class;
            new Bootstrap().group(group).channel(type).option(ChannelOption.TCP_NODELAY, true)
                    .handler(source).connect("127.0.0.1", Integer.parseInt(info.substring(info.indexOf('=') + 1)))
                    .sync();
            source.done.get();
        } finally {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
        }
    }

    /** Sender: ping-pong (lat) or phases of back-to-back messages, each phase ended by the receiver's checksum. */
    private static final class Source extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Void> done = new CompletableFuture<>();
        private final boolean lat, fresh;
        private final ByteBuf data;
        private final long expected;
        private final int warmup, iters;
        private final Result result;
        private final Histogram halfTrips = new Histogram(3);
        private int round, written, acked;
        private long start, replyBytes, reply;
        /** Fresh messages: how many were written, and the checksum of the phase's. */
        private long freshWritten, freshSent;

        Source(boolean lat, boolean fresh, ByteBuf data, long expected, int warmup, int iters, Result result) {
            this.lat = lat;
            this.fresh = fresh;
            this.data = data;
            this.expected = expected;
            this.warmup = warmup;
            this.iters = iters;
            this.result = result;
        }

        private int phaseCount() {
            return acked == 0 ? warmup : iters;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            start = System.nanoTime();
            if (lat) {
                ctx.writeAndFlush(data.retainedDuplicate());
            } else {
                writeSome(ctx);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (!lat) {
                writeSome(ctx);
            }
        }

        private void writeSome(ChannelHandlerContext ctx) {
            int count = phaseCount();
            while (written < count && ctx.channel().isWritable()) {
                written++; // first: the write may change writability, and Netty then calls this method again inside it
                ctx.write(fresh ? freshMessage(ctx) : data.retainedDuplicate());
                if ((written & 7) == 0) {
                    ctx.flush();
                }
            }
            ctx.flush();
        }

        /** A message written anew into a buffer of Netty's allocator, which Netty frees once written. */
        private ByteBuf freshMessage(ChannelHandlerContext ctx) {
            int size = data.capacity();
            ByteBuf message = ctx.alloc().directBuffer(size, size);
            freshSent += PeerBench.writeFresh(MemorySegment.ofBuffer(message.nioBuffer(0, size)), size, freshWritten++);
            return message.writerIndex(size);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                while (buf.isReadable()) {
                    reply |= (buf.readByte() & 0xFFL) << (8 * replyBytes);
                    if (++replyBytes == 8) {
                        onReply(ctx, reply);
                        reply = 0;
                        replyBytes = 0;
                    }
                }
            } finally {
                buf.release();
            }
        }

        private void onReply(ChannelHandlerContext ctx, long value) {
            long now = System.nanoTime();
            if (lat) {
                result.check(value == expected);
                if (round >= warmup) {
                    halfTrips.recordValue((now - start) / 2);
                }
                if (++round == warmup + iters) {
                    result.latency(halfTrips);
                    done.complete(null);
                    return;
                }
                start = System.nanoTime();
                ctx.writeAndFlush(data.retainedDuplicate());
                return;
            }
            int count = phaseCount();
            result.check(value == (fresh ? freshSent : expected * count));
            freshSent = 0;
            if (++acked == 2) {
                result.throughput((long) data.capacity() * count, now - start);
                done.complete(null);
                return;
            }
            written = 0;
            start = System.nanoTime();
            writeSome(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done.completeExceptionally(cause);
            ctx.close();
        }
    }
}
