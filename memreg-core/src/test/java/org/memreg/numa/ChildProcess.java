package org.memreg.numa;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.concurrent.TimeUnit;
import org.memreg.testkit.ChildJvm;

/** A running {@link NumaChild}: its pid and the address of its pages; closing ends it. */
final class ChildProcess implements AutoCloseable {
    final Process process;
    final long address;

    ChildProcess() throws Exception {
        process = new ProcessBuilder(ChildJvm.javaCommand(NumaChild.class)).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream()));
        String line;
        long found = -1;
        while ((line = out.readLine()) != null) {
            if (line.startsWith("address=")) {
                found = Long.parseUnsignedLong(line.substring(8, line.indexOf(' ')), 16);
                break;
            }
            System.out.println("child: " + line);
        }
        if (found < 0) {
            process.destroyForcibly();
            throw new AssertionError("child printed no address; exit " + process.waitFor());
        }
        address = found;
    }

    int pid() {
        return (int) process.pid();
    }

    /** Ends the child and returns its exit status (3: it found its data changed). */
    int finish() throws Exception {
        process.getOutputStream().close();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("child did not exit");
        }
        return process.exitValue();
    }

    @Override
    public void close() throws Exception {
        if (process.isAlive()) {
            finish();
        }
    }
}
