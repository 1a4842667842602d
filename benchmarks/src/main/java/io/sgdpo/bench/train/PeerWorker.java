package io.sgdpo.bench.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.Generator;
import io.sgdpo.nn.Optimization;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.PairedPreferenceLoss;
import io.sgdpo.nn.SequenceLogProbs;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/**
 * One figure of one shape, measured in a JVM of its own (started by {@link PeerBenchmark}), so
 * that the peak resident memory it reports belongs to that figure alone:
 * <pre>
 *   PeerWorker --shape NAME --figure train|ref|gen --batch FILE --out FILE
 *              [--warmups W] [--repeats R] [--profile] [--dump DIR]
 * </pre>
 * <ul>
 *   <li>train: {@code ComputationGraph.fit} of the shape's paired SGDPO minibatch
 *       ({@link PairedPreferenceLoss}, Adam 1e-4); work = 2B x T positions per step.</li>
 *   <li>ref: the reference pass, {@link SequenceLogProbs#of} (forward without gradient and the
 *       per-token log-probs of every response token); work = 2B x T positions per pass.</li>
 *   <li>gen: {@link Generator#greedy} of the B generation prompts, never stopping early, with its
 *       key/value cache; work = B x new tokens.</li>
 * </ul>
 * Each timed repeat runs the shape's steps per repeat after {@code W} untimed ones. The result
 * (every repeat's seconds, the work, VmHWM of the process, the JVM's heap) goes to {@code --out}
 * as JSON. {@code --profile} adds where the time of the figure goes ({@link StepProfile}).
 * {@code --dump DIR} writes the gpt model's parameters, the logits of the batch and its loss, for
 * {@code torch_peer.py selfcheck --dump DIR} to check that the PyTorch peer computes the same.
 */
public final class PeerWorker {

    /** Learning rate of both sides' Adam. */
    public static final double LEARNING_RATE = 1e-4;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private PeerWorker() {
    }

    public static void main(String[] args) {
        int status;
        try {
            run(args);
            status = 0;
        } catch (Exception | Error e) {
            e.printStackTrace();
            status = 1;
        }
        System.exit(status); // ND4J and DL4J leave non-daemon threads behind
    }

    static void run(String[] args) throws IOException {
        String shapeName = null;
        String figure = null;
        Path batchFile = null;
        Path out = null;
        Path dump = null;
        int warmups = 1;
        int repeats = 3;
        boolean profile = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--shape" -> shapeName = args[++i];
                case "--figure" -> figure = args[++i];
                case "--batch" -> batchFile = Path.of(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                case "--dump" -> dump = Path.of(args[++i]);
                case "--warmups" -> warmups = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--profile" -> profile = true;
                default -> throw new IllegalArgumentException("unknown argument '" + args[i] + "'");
            }
        }
        if (shapeName == null || figure == null || batchFile == null || out == null) {
            throw new IllegalArgumentException("--shape, --figure, --batch and --out are required");
        }
        Decoder.silenceSameDiffLog();
        PeerShape shape = PeerShape.named(shapeName);
        LossSpec spec = new LossSpec();
        PreferenceLoss loss = Losses.create(spec);
        List<PairExample> pairs = PeerBatch.readPairs(batchFile);
        PairedBatch layout = new PairedBatch(shape.length(), PeerBatch.PAD);

        long start = System.nanoTime();
        StepProfile profiler = profile ? new StepProfile() : null;
        ComputationGraph graph = PeerModels.create(shape, profiler == null ? new PairedPreferenceLoss(spec)
                : profiler.timedLoss(new PairedPreferenceLoss(spec)), new Optimization(new Adam(LEARNING_RATE), 0, 0));
        Runnable work;
        long units;
        String unit;
        int steps;
        switch (figure) {
            case "train" -> {
                DataSet batch = layout.build(pairs, loss, PeerBatch.SEED, 0, DataType.FLOAT);
                if (profiler != null) {
                    profiler.attach(graph);
                }
                work = () -> {
                    if (profiler != null) {
                        profiler.stepStart();
                    }
                    graph.fit(batch);
                };
                units = shape.positions();
                unit = "positions";
                steps = shape.trainSteps();
            }
            case "ref" -> {
                work = () -> SequenceLogProbs.of(graph, layout, pairs);
                units = shape.positions();
                unit = "positions";
                steps = shape.refSteps();
            }
            case "gen" -> {
                List<int[]> prompts = PeerBatch.readPrompts(batchFile);
                Generator generator = new Generator(graph, shape.length(), -1, PeerBatch.PAD); // no EOS: full length
                work = () -> generator.greedy(prompts, shape.genTokens());
                units = (long) prompts.size() * shape.genTokens();
                unit = "tokens";
                steps = 1;
            }
            default -> throw new IllegalArgumentException("--figure must be train, ref or gen, got " + figure);
        }
        if (dump != null) {
            dump(graph, shape, spec, layout.build(pairs, loss, PeerBatch.SEED, 0, DataType.FLOAT), batchFile, dump);
        }
        double setup = (System.nanoTime() - start) / 1e9;

        for (int w = 0; w < warmups; w++) {
            for (int s = 0; s < steps; s++) {
                work.run();
            }
        }
        if (profiler != null) {
            profiler.timeSameDiffOps(graph);
            profiler.start();
        }
        double[] seconds = new double[repeats];
        for (int r = 0; r < repeats; r++) {
            long t = System.nanoTime();
            for (int s = 0; s < steps; s++) {
                work.run();
            }
            seconds[r] = (System.nanoTime() - t) / 1e9;
        }
        if (profiler != null) {
            profiler.stop();
        }

        ObjectNode result = JSON.createObjectNode();
        result.put("side", "project");
        result.put("figure", figure);
        result.put("arch", shape.architecture());
        result.put("unit", unit);
        result.put("workPerRepeat", units * steps);
        result.put("steps", steps);
        result.put("warmups", warmups);
        ArrayNode s = result.putArray("seconds");
        for (double v : seconds) {
            s.add(v);
        }
        result.put("setupSeconds", setup);
        result.put("peakRssBytes", ProcessMemory.peakResidentBytes());
        result.put("rssBytes", ProcessMemory.residentBytes());
        result.put("parameters", graph.numParams());
        if (figure.equals("gen")) {
            result.put("kvCache", true);
        }
        ObjectNode env = result.putObject("environment");
        env.put("java", System.getProperty("java.version"));
        env.put("maxHeapBytes", Runtime.getRuntime().maxMemory());
        env.put("heapCommittedBytes", Runtime.getRuntime().totalMemory());
        env.put("nd4jBackend", Nd4j.getBackend().getClass().getSimpleName());
        env.put("threads", Nd4j.getEnvironment().maxMasterThreads());
        env.put("blasVendor", String.valueOf(Nd4j.factory().blas().getBlasVendor()));
        env.put("ompThreadsEnv", String.valueOf(System.getenv("OMP_NUM_THREADS")));
        if (profiler != null) {
            result.set("profile", profiler.report(seconds, steps));
        }
        Files.writeString(out, JSON.writeValueAsString(result));
    }

    /** Parameters (raw little-endian float32, c order), the batch's logits and loss, for the peer's check. */
    private static void dump(ComputationGraph graph, PeerShape shape, LossSpec spec, DataSet batch, Path batchFile,
                             Path dir) throws IOException {
        if (!shape.architecture().equals("gpt")) {
            throw new IllegalArgumentException("--dump writes the gpt decoder's parameters only");
        }
        Files.createDirectories(dir);
        ObjectNode root = JSON.createObjectNode();
        ObjectNode s = root.putObject("shape");
        s.put("vocab", shape.vocab()).put("d", shape.dModel()).put("layers", shape.layers())
                .put("heads", shape.heads()).put("length", shape.length());
        root.put("beta", spec.getBeta());
        root.put("labelSmoothing", spec.getLabelSmoothing());
        root.set("batch", JSON.readTree(batchFile.toFile()));
        ObjectNode arrays = root.putObject("arrays");
        for (Map.Entry<String, INDArray> e : graph.paramTable().entrySet()) {
            writeArray(dir, arrays, e.getKey(), e.getValue());
        }
        writeArray(dir, arrays, "logits", graph.output(false, batch.getFeatures())[0]);
        root.put("score", graph.score(batch));
        Files.writeString(dir.resolve("dump.json"), JSON.writeValueAsString(root));
    }

    private static void writeArray(Path dir, ObjectNode arrays, String name, INDArray a) throws IOException {
        float[] values = a.castTo(DataType.FLOAT).dup('c').data().asFloat();
        ByteBuffer buffer = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asFloatBuffer().put(values);
        String file = name + ".f32";
        try (OutputStream os = Files.newOutputStream(dir.resolve(file))) {
            os.write(buffer.array());
        }
        ObjectNode meta = arrays.putObject(name);
        meta.put("file", file);
        ArrayNode shape = meta.putArray("shape");
        for (long d : a.shape()) {
            shape.add(d);
        }
    }
}
