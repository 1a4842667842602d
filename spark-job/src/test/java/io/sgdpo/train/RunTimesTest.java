package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Phases add up in the order they first took time; "other" is the rest of the run's clock. */
class RunTimesTest {

    private static void spin(long nanos) {
        long until = System.nanoTime() + nanos;
        while (System.nanoTime() < until) {
            Thread.onSpinWait();
        }
    }

    @Test
    void phasesAddUpInFirstSeenOrderAndOtherIsTheRest() {
        RunTimes times = new RunTimes();
        long mark = System.nanoTime();
        spin(2_000_000);
        mark = times.add("updates", mark);
        spin(1_000_000);
        mark = times.add("evaluation", mark);
        spin(2_000_000);
        times.add("updates", mark);
        spin(3_000_000); // counted by no phase

        Map<String, Double> seconds = times.seconds();
        assertEquals(List.of("updates", "evaluation", "other"), List.copyOf(seconds.keySet()));
        assertTrue(seconds.get("updates") >= 0.004, "updates " + seconds.get("updates"));
        assertTrue(seconds.get("evaluation") >= 0.001, "evaluation " + seconds.get("evaluation"));
        assertTrue(seconds.get("other") >= 0.003, "other " + seconds.get("other"));
        double sum = seconds.values().stream().mapToDouble(Double::doubleValue).sum();
        // the spins above add up to 8 ms; anything beyond (a lambda's first bootstrap) is "other"
        assertTrue(sum <= times.total() && sum >= 0.008, sum + " of " + times.total());
        String summary = times.summary();
        assertTrue(summary.matches("\\d+\\.\\d\\d s: updates \\d+\\.\\d\\d s \\(\\d+%\\), evaluation \\d+\\.\\d\\d s"
                + " \\(\\d+%\\), other \\d+\\.\\d\\d s \\(\\d+%\\)"), summary);
    }
}
