package io.sgdpo.online;

import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.ModelZip;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * Draws {@code k} completions of every prompt on the executors: the model is broadcast, each task
 * samples its partition's prompts in batches ({@link BatchSampler}), and row j of prompt p draws
 * from a generator seeded by (seed, p's id, j) alone, so the same seed and partitioning give the
 * same samples. The prompts go in chunks of about a tenth (at least one forward pass per
 * partition), one Spark job each, to report progress.
 */
public final class OnPolicySamples {

    /** A prompt ready to sample: its id (unique in its set), text, and ids as the model's tokenizer encodes it. */
    public record Prompt(String id, String text, int[] ids) implements Serializable {
    }

    /** Sample {@code index} of prompt {@code promptId}. */
    public record Sample(String promptId, int index, int[] tokens, boolean ended) implements Serializable {
        public BatchSampler.Draw draw() {
            return new BatchSampler.Draw(tokens, ended);
        }
    }

    /**
     * How to sample.
     *
     * @param rowsPerPass rows decoded together in one forward pass (whole prompts of k rows each)
     * @param partitions  Spark partitions of each chunk of prompts; 0: the default parallelism
     */
    public record Settings(int k, double temperature, int topK, int maxNewTokens, long seed, int rowsPerPass,
                           int partitions) implements Serializable {
    }

    private OnPolicySamples() {
    }

    /**
     * @return every prompt's k samples, in the order of the prompts, then by index
     */
    public static List<Sample> draw(SparkSession spark, ComputationGraph model, int eosId, int padId,
                                    List<Prompt> prompts, Settings s, String label, PrintStream progress) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Broadcast<byte[]> bytes = jsc.broadcast(serialize(model));
        int partitions = s.partitions() > 0 ? s.partitions() : jsc.defaultParallelism();
        // Each task deserialises the model: a chunk holds at least one full pass per partition.
        int chunk = Math.max(partitions * Math.max(1, s.rowsPerPass() / s.k()), (prompts.size() + 9) / 10);
        List<Sample> out = new ArrayList<>(prompts.size() * s.k());
        long t0 = System.nanoTime();
        try {
            for (int from = 0; from < prompts.size(); from += chunk) {
                int to = Math.min(prompts.size(), from + chunk);
                List<Prompt> part = prompts.subList(from, to);
                out.addAll(jsc.parallelize(new ArrayList<>(part), Math.min(partitions, part.size()))
                        .mapPartitions(new Task(bytes, eosId, padId, s)).collect());
                double seconds = (System.nanoTime() - t0) / 1e9;
                progress.printf("%s: sampled %d/%d prompts x %d (%.0f s, ETA %.0f s)%n", label, to, prompts.size(),
                        s.k(), seconds, seconds / to * (prompts.size() - to));
            }
        } finally {
            bytes.destroy();
        }
        // collect() keeps partition order, which is prompt order; sorting states it rather than relies on it.
        java.util.Map<String, Integer> order = new java.util.HashMap<>();
        for (int i = 0; i < prompts.size(); i++) {
            order.put(prompts.get(i).id(), i);
        }
        out.sort(Comparator.comparingInt((Sample x) -> order.get(x.promptId())).thenComparingInt(Sample::index));
        return out;
    }

    /** The seed of sample {@code index} of a prompt: a 64-bit mix of the three. */
    static long rowSeed(long seed, String promptId, int index) {
        long h = mix(seed ^ 0x9E3779B97F4A7C15L);
        for (int i = 0; i < promptId.length(); i++) {
            h = mix(h ^ promptId.charAt(i));
        }
        return mix(h ^ (index + 1L));
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static byte[] serialize(ComputationGraph model) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ModelZip.write(model, out, false);
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialise the model to broadcast it", e);
        }
    }

    /** The executors' side: one partition of prompts in, their samples out. */
    private record Task(Broadcast<byte[]> model, int eosId, int padId, Settings s)
            implements org.apache.spark.api.java.function.FlatMapFunction<Iterator<Prompt>, Sample> {

        @Override
        public Iterator<Sample> call(Iterator<Prompt> prompts) throws IOException {
            List<Prompt> all = new ArrayList<>();
            prompts.forEachRemaining(all::add);
            List<Sample> out = new ArrayList<>(all.size() * s.k());
            if (all.isEmpty()) {
                return out.iterator();
            }
            BatchSampler sampler = new BatchSampler(
                    Checkpoints.readModel(new ByteArrayInputStream(model.value()), false), eosId, padId);
            int promptsPerPass = Math.max(1, s.rowsPerPass() / s.k());
            for (int from = 0; from < all.size(); from += promptsPerPass) {
                List<Prompt> batch = all.subList(from, Math.min(all.size(), from + promptsPerPass));
                List<int[]> rows = new ArrayList<>();
                List<Random> randoms = new ArrayList<>();
                for (Prompt p : batch) {
                    for (int j = 0; j < s.k(); j++) {
                        rows.add(p.ids());
                        randoms.add(new Random(rowSeed(s.seed(), p.id(), j)));
                    }
                }
                List<BatchSampler.Draw> draws = sampler.sample(rows, randoms, s.maxNewTokens(), s.temperature(),
                        s.topK());
                for (int r = 0; r < draws.size(); r++) {
                    out.add(new Sample(batch.get(r / s.k()).id(), r % s.k(), draws.get(r).tokens(),
                            draws.get(r).ended()));
                }
            }
            return out.iterator();
        }
    }
}
