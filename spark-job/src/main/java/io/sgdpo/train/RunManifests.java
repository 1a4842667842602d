package io.sgdpo.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import io.sgdpo.checkpoint.TrainingState;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.Provenance;
import io.sgdpo.prep.UserModel;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.util.List;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The {@link Manifest} of a training run folder ({@code sgdpo sft}, {@code sgdpo train}): the data
 * folder it read, the model it started from, its settings and its run id. The model's identity
 * travels in the checkpoints' training state, so a resumed run records the same start.
 */
public final class RunManifests {

    /** Training-state keys of the model a run started from. */
    static final String INIT = "init";
    static final String INIT_SHA256 = "initSha256";
    static final String INIT_KIND = "initKind";

    private static final ObjectMapper JSON = new ObjectMapper();

    private RunManifests() {
    }

    /** {@code state} with the model a run starts from. */
    static TrainingState withInit(TrainingState state, String init, UserModel model) {
        Manifest.Model m = Manifest.Model.of(model);
        return state.with(INIT, init).with(INIT_SHA256, m.sha256()).with(INIT_KIND, m.kind());
    }

    /** The model a run started from, as its training state records it, or null (trained from scratch). */
    static Manifest.Model init(TrainingState state) {
        String path = state.extra().get(INIT);
        return path == null ? null : new Manifest.Model(state.extra().get(INIT_KIND), path,
                state.extra().get(INIT_SHA256), JSON.createObjectNode());
    }

    /** A run's manifest so far: stage, data input, starting model, settings and run id. */
    static Manifest.Builder builder(String stage, FileSystem fs, String dataDir, TrainingState state, Config config,
                                    List<String> namespaces) throws IOException {
        return Manifest.builder(stage)
                .input(Manifest.Input.ofOutput(new Path(dataDir).getFileSystem(fs.getConf()), new Path(dataDir)))
                .model(init(state))
                .config(config, namespaces)
                .section(Provenance.RUN_ID, state.extra().get(Provenance.RUN_ID));
    }

    /**
     * The manifest of the run folder {@code run}.
     *
     * @throws IOException naming the file when there is none or it is broken
     */
    public static Manifest read(FileSystem fs, Path run) throws IOException {
        Manifest m = Manifest.readIfPresent(fs, run);
        if (m == null) {
            throw new FileNotFoundException("no manifest: " + new Path(run, Manifest.FILE) + " does not exist");
        }
        return m;
    }
}
