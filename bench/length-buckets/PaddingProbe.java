package io.sgdpo.bench.train;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The plain fit of bench-train's job minibatches, padded to their own longest row and to
 * model.maxLength, the two taking turns in one process (the order swapped every round), to tell
 * the padding's cost from the order of bench-train's variants. Compiled against the build's
 * classpath: see probe.sh.
 *
 * <p>Arguments: steps, rounds, and optionally a --conf file for the job's prep and model.
 */
public final class PaddingProbe {
    public static void main(String[] args) throws Exception {
        int steps = Integer.parseInt(args[0]);
        int rounds = Integer.parseInt(args[1]);
        File conf = args.length > 2 ? new File(args[2]) : null;
        Path work = Files.createTempDirectory("sgdpo-padding-probe");
        JobVariants job = JobVariants.prepare(work, steps, conf, System.out);
        System.out.printf("positions padded to model.maxLength / own longest row: %.3f%n", job.paddedPositionsRatio());
        job.timePlain();
        job.timePlainPadded();
        for (int r = 0; r < rounds; r++) {
            double own;
            double padded;
            if (r % 2 == 0) {
                own = job.timePlain();
                padded = job.timePlainPadded();
            } else {
                padded = job.timePlainPadded();
                own = job.timePlain();
            }
            System.out.printf("round %d (%s first): own longest row %.2f s, padded to model.maxLength %.2f s,"
                    + " own/padded time %.3f%n", r, r % 2 == 0 ? "own" : "padded", own, padded, own / padded);
        }
        JobVariants.deleteRecursively(work);
    }
}
