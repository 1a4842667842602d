package io.sgdpo.checkpoint;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * What a run needs besides the parameters and optimizer state to continue exactly: the global
 * step, the epoch, the run seed, ND4J's random seed, and free-form string values (run id, data
 * position, vocabulary identity). Stored as a properties file beside the model.
 *
 * @param step    global optimizer step completed
 * @param epoch   epoch the next step belongs to
 * @param seed    the run seed
 * @param rngSeed ND4J's random seed to restore (dropout, sampling)
 * @param extra   further values, kept in key order
 */
public record TrainingState(long step, int epoch, long seed, long rngSeed, Map<String, String> extra) {

    public TrainingState {
        if (step < 0 || epoch < 0) {
            throw new IllegalArgumentException("step and epoch must be >= 0, got " + step + ", " + epoch);
        }
        extra = Map.copyOf(extra);
    }

    /** The state at the start of a run. */
    public static TrainingState initial(long seed) {
        return new TrainingState(0, 0, seed, seed, Map.of());
    }

    /** The same state with one more extra value. */
    public TrainingState with(String key, String value) {
        Map<String, String> m = new TreeMap<>(extra);
        m.put(key, value);
        return new TrainingState(step, epoch, seed, rngSeed, m);
    }

    void write(OutputStream out) throws IOException {
        Properties p = new Properties();
        extra.forEach((k, v) -> p.setProperty("extra." + k, v));
        p.setProperty("step", Long.toString(step));
        p.setProperty("epoch", Integer.toString(epoch));
        p.setProperty("seed", Long.toString(seed));
        p.setProperty("rngSeed", Long.toString(rngSeed));
        p.store(new java.io.OutputStreamWriter(out, StandardCharsets.UTF_8), "training state");
    }

    static TrainingState read(InputStream in, String source) throws IOException {
        Properties p = new Properties();
        p.load(new java.io.InputStreamReader(in, StandardCharsets.UTF_8));
        Map<String, String> extra = new TreeMap<>();
        for (String k : p.stringPropertyNames()) {
            if (k.startsWith("extra.")) {
                extra.put(k.substring("extra.".length()), p.getProperty(k));
            }
        }
        try {
            return new TrainingState(Long.parseLong(p.getProperty("step")), Integer.parseInt(p.getProperty("epoch")),
                    Long.parseLong(p.getProperty("seed")), Long.parseLong(p.getProperty("rngSeed")), extra);
        } catch (RuntimeException e) {
            throw new IOException("corrupt training state " + source + ": " + e.getMessage(), e);
        }
    }
}
