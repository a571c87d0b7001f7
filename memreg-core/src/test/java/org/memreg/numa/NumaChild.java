package org.memreg.numa;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import org.memreg.linux.Mman;
import org.memreg.linux.SysConf;

/**
 * A child JVM for the cross-process tests: maps {@value #PAGES} pages, writes the first
 * {@value #WRITTEN}, reads the next {@value #READ} (the zero page) and leaves the rest untouched,
 * prints {@code address=<hex>}, then waits until its standard input closes.
 */
public final class NumaChild {
    static final int PAGES = 64;
    static final int WRITTEN = 48;
    static final int READ = 8;

    public static void main(String[] args) throws Exception {
        long page = SysConf.pageSize();
        long address = Mman.mapAnonymous(PAGES * page);
        MemorySegment memory = Mman.segment(address, PAGES * page);
        for (int i = 0; i < WRITTEN; i++) {
            memory.set(JAVA_BYTE, i * page, (byte) (i + 1));
        }
        long sum = 0;
        for (int i = WRITTEN; i < WRITTEN + READ; i++) {
            sum += memory.get(JAVA_BYTE, i * page);
        }
        System.out.println("address=" + Long.toHexString(address) + " sum=" + sum);
        System.out.flush();
        while (System.in.read() >= 0) {
            // wait for the parent to close our stdin
        }
        for (int i = 0; i < WRITTEN; i++) {
            if (memory.get(JAVA_BYTE, i * page) != (byte) (i + 1)) {
                System.exit(3); // a move lost data
            }
        }
    }
}
