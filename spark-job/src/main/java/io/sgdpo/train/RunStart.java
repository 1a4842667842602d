package io.sgdpo.train;

import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.config.ConfigurationException;
import java.io.IOException;
import java.util.Optional;
import org.apache.hadoop.fs.Path;

/**
 * The rule sft and train share for where a run begins: with {@code --resume}, the latest checkpoint
 * of the run's output (which must exist); without it, a new run in an output that holds none.
 */
final class RunStart {

    /** The checkpoints' folder inside a run's output. */
    static final String CHECKPOINTS = "checkpoints";

    private RunStart() {
    }

    /**
     * @param run         the run's output folder
     * @param checkpoints its checkpoints (under {@link #CHECKPOINTS})
     * @return the checkpoint to resume from, or empty for a new run
     * @throws ConfigurationException when {@code --resume} finds no checkpoint, or a new run would
     *                                write over an earlier one
     */
    static Optional<Checkpoints.Loaded> resumeOrNew(Path run, Checkpoints checkpoints, boolean resume)
            throws IOException {
        Optional<Checkpoints.Loaded> latest = checkpoints.loadLatest();
        if (resume && latest.isEmpty()) {
            throw new ConfigurationException("--resume: no checkpoint under " + new Path(run, CHECKPOINTS)
                    + " to resume from");
        }
        if (!resume && latest.isPresent()) {
            throw new ConfigurationException("output " + run + " already holds a run (" + latest.get().path()
                    + "); pass --resume to continue it or choose another --output");
        }
        return latest;
    }
}
