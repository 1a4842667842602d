package io.sgdpo.pipeline;

import java.io.PrintStream;

/** Numbered stage headers of a multi-stage command ({@code demo}, {@code study}) with the time each stage took. */
public final class PipelineStages {
    private final String command;
    private final PrintStream progress;
    private final int total;
    private int current;
    private long started;
    private String name;

    /** @param command the name in each header, e.g. "demo" */
    public PipelineStages(String command, PrintStream progress, int total) {
        this.command = command;
        this.progress = progress;
        this.total = total;
    }

    /** Ends the current stage, if any, and starts the next. */
    public void begin(String next) {
        end();
        current++;
        name = next;
        started = System.nanoTime();
        progress.printf("%n== %s [%d/%d] %s%n", command, current, total, next);
    }

    /** Ends the current stage, printing its time. */
    public void end() {
        if (name != null) {
            String finished = name;
            name = null;
            progress.printf("== %s [%d/%d] %s: done in %.0f s%n", command, current, total, finished,
                    (System.nanoTime() - started) / 1e9);
        }
    }
}
