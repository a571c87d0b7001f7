package org.memreg.transport;

/**
 * A node without a progress thread, driven by a thread of its own that a test pauses and
 * resumes: a peer that stops progressing (over TCP, a peer whose UCX answers nothing) and comes
 * back.
 */
final class PausableNode implements AutoCloseable {
    final Node node;
    private volatile boolean progressing = true;
    private volatile boolean closing;
    private final Thread driver;

    /** Builds {@code builder} without a progress thread and starts driving it. */
    PausableNode(NodeBuilder builder) {
        node = builder.progressThread(false).build();
        driver = Thread.ofPlatform().name(node + "'s progress").start(() -> {
            while (!closing) {
                if (progressing) {
                    node.progress();
                } else {
                    Thread.onSpinWait();
                }
            }
        });
    }

    /** Stops progressing the node at once (a round under way ends on its own). */
    void pause() {
        progressing = false;
    }

    void resume() {
        progressing = true;
    }

    @Override
    public void close() throws InterruptedException {
        closing = true;
        driver.join();
        node.close();
    }
}
