package org.memreg.cli;

import java.io.PrintWriter;

/**
 * A one-line progress bar on stderr: redrawn in place on a terminal, printed every tenth
 * otherwise, so logs of long runs stay readable.
 */
final class Progress {
    private static final int WIDTH = 30;
    private final PrintWriter err;
    private final boolean terminal = System.console() != null && System.console().isTerminal();
    private final long totalUnits;
    private long doneUnits;
    private int lastTenth = -1;

    Progress(PrintWriter err, long totalUnits) {
        this.err = err;
        this.totalUnits = Math.max(1, totalUnits);
    }

    /** Shows {@code fraction} (0..1) of the current unit done, with a label. */
    void show(double fraction, String label) {
        double overall = Math.min(1, (doneUnits + Math.min(1, fraction)) / totalUnits);
        int filled = (int) (overall * WIDTH);
        String line = String.format("[%s%s] %3d%% %s", "#".repeat(filled), " ".repeat(WIDTH - filled),
                (int) (overall * 100), label);
        if (terminal) {
            err.print("\r" + line + "\u001b[K");
            err.flush();
        } else if ((int) (overall * 10) != lastTenth) {
            lastTenth = (int) (overall * 10);
            err.println(line);
            err.flush();
        }
    }

    /** Marks one unit finished. */
    void unitDone(String label) {
        doneUnits++;
        show(0, label);
    }

    /** Ends the bar's line. */
    void finish() {
        if (terminal) {
            err.println();
        }
        err.flush();
    }
}
