package io.sgdpo.nn;

import java.io.PrintStream;

/**
 * ND4J 1.0.0-M2.1's SameDiff prints "Added differentiated op ..." on standard output, unconditionally,
 * for every op of every layer's first backward pass: hundreds of lines that bury a job's progress.
 * This filter drops exactly those lines and passes everything else through unchanged.
 */
final class SameDiffLogFilter extends PrintStream {

    private static final String PREFIX = "Added differentiated op ";

    private SameDiffLogFilter(PrintStream out) {
        super(out, true);
    }

    /** Wraps System.out once per JVM. */
    static synchronized void install() {
        if (!(System.out instanceof SameDiffLogFilter)) {
            System.setOut(new SameDiffLogFilter(System.out));
        }
    }

    @Override
    public void println(String line) {
        if (line == null || !line.startsWith(PREFIX)) {
            super.println(line);
        }
    }
}
