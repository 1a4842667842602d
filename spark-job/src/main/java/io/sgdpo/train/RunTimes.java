package io.sgdpo.train;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.StringJoiner;

/**
 * Wall-clock seconds of a training run by phase (reading the data, evaluation, updates, ...), so
 * the cost of the work around the updates is a number a user sees at the end of every run. Phases
 * keep the order in which they first took time.
 */
public final class RunTimes {

    private final Map<String, Double> seconds = new LinkedHashMap<>();
    private final long start = System.nanoTime();

    /** Adds the time since {@code startNanos} (a {@link System#nanoTime()}) to the phase; returns now. */
    public long add(String phase, long startNanos) {
        long now = System.nanoTime();
        seconds.merge(phase, (now - startNanos) / 1e9, Double::sum);
        return now;
    }

    /** Seconds since this run's clock started. */
    public double total() {
        return (System.nanoTime() - start) / 1e9;
    }

    /** Seconds per phase, in the order the phases first took time, with "other" for the rest of {@link #total}. */
    public Map<String, Double> seconds() {
        Map<String, Double> out = new LinkedHashMap<>(seconds);
        double counted = seconds.values().stream().mapToDouble(Double::doubleValue).sum();
        out.put("other", Math.max(0, total() - counted));
        return Collections.unmodifiableMap(out);
    }

    /** One line: "4.45 s: updates 2.61 s (59%), evaluation 0.52 s (12%), ...". */
    public String summary() {
        double total = total();
        StringJoiner parts = new StringJoiner(", ", String.format(Locale.ROOT, "%.2f s: ", total), "");
        seconds().forEach((phase, s) -> parts.add(String.format(Locale.ROOT, "%s %.2f s (%.0f%%)", phase, s,
                total > 0 ? 100 * s / total : 0)));
        return parts.toString();
    }
}
