package io.sgdpo.bench.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.bench.prep.RepeatFigures;
import io.sgdpo.checkpoint.ModelZip;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.SftLoss;
import io.sgdpo.report.Machine;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/**
 * What a checkpoint costs: a decoder's {@code model.zip} with Adam's state written to a local file
 * and read back, by DL4J's {@code ModelSerializer} and by {@link ModelZip} (the same entries, the
 * arrays copied in bulk, stored without compression), the two taking turns in every repeat.
 * Seconds per write and per read, median over the repeats, at the decoder {@code sgdpo train}
 * trains by default, bench-peer's mid shape and the GPT-2 small shape. Adam's state is filled with
 * random values, as after training, so that the deflater sees real data.
 */
public final class CheckpointBenchmark {

    private CheckpointBenchmark() {
    }

    /** The shapes by name: the default decoder (bench-train's job), bench-peer's mid and GPT-2 small. */
    public static final List<String> SHAPES = List.of("default", "mid", "gpt2");

    private static final List<String> VARIANTS = List.of("write, ModelSerializer", "write, ModelZip",
            "read, ModelSerializer", "read, ModelZip");

    private static DecoderConfig shape(String name) {
        return switch (name) {
            case "default" -> DecoderConfig.fromConfig(SgdpoConfig.reference().getConfig("model"), 2983);
            case "mid" -> new DecoderConfig(8192, 256, 4, 4, 128, 0.0, 42);
            case "gpt2" -> new DecoderConfig(50257, 768, 12, 12, 256, 0.0, 42);
            default -> throw new IllegalArgumentException("unknown shape '" + name + "' (known: " + SHAPES + ")");
        };
    }

    public static void run(List<String> shapes, int repeats, int warmups, File outDir, PrintStream out)
            throws IOException {
        shapes.forEach(CheckpointBenchmark::shape);
        ObjectMapper json = new ObjectMapper();
        ObjectNode report = json.createObjectNode();
        report.put("benchmark", "checkpoint");
        report.put("date", Instant.now().toString());
        report.put("command", "./sgdpo bench-checkpoint --shapes " + String.join(",", shapes) + " --repeats "
                + repeats + " --warmups " + warmups);
        report.set("machine", Machine.describe());
        ArrayNode results = report.putArray("shapes");
        StringBuilder md = new StringBuilder("# What a checkpoint costs\n\nCommand: `")
                .append(report.get("command").asText()).append("`; seconds, median (min-max) of ").append(repeats)
                .append(" repeats after ").append(warmups).append(" warm-up round(s), the variants taking turns;")
                .append(" model.zip with Adam's state, to and from a local file.\n\n| shape | parameters | file MB,"
                        + " ModelSerializer / ModelZip |");
        for (String v : VARIANTS) {
            md.append(' ').append(v).append(" |");
        }
        md.append(" write, ModelSerializer / ModelZip | read, ModelSerializer / ModelZip |\n|---|---|---|")
                .append("---|".repeat(VARIANTS.size() + 2)).append('\n');
        Path dir = Files.createTempDirectory("sgdpo-bench-checkpoint");
        try {
            for (String name : shapes) {
                ComputationGraph network = Decoder.create(shape(name), new SftLoss(), new Adam(1e-3), DataType.FLOAT);
                INDArray state = network.getUpdater().getStateViewArray();
                state.assign(Nd4j.rand(DataType.FLOAT, state.shape()).muli(1e-3));
                Map<String, double[]> seconds = new LinkedHashMap<>();
                VARIANTS.forEach(v -> seconds.put(v, new double[repeats]));
                Map<String, Long> bytes = new LinkedHashMap<>();
                for (int r = -warmups; r < repeats; r++) {
                    for (String v : VARIANTS) {
                        double t = time(v, network, dir, bytes);
                        if (r >= 0) {
                            seconds.get(v)[r] = t;
                        }
                        out.printf("bench-checkpoint: %s, %s, round %d: %.2f s%n", name, v, r, t);
                    }
                }
                ObjectNode n = results.addObject();
                n.put("shape", name);
                n.put("model", shape(name).toString());
                n.put("parameters", network.params().length());
                n.put("updater_state", state.length());
                n.put("bytes_model_serializer", bytes.get("ModelSerializer"));
                n.put("bytes_model_zip", bytes.get("ModelZip"));
                ObjectNode variants = n.putObject("seconds");
                md.append("| ").append(name).append(" | ").append(String.format("%,d", network.params().length()))
                        .append(String.format(" | %.1f / %.1f |", bytes.get("ModelSerializer") / 1e6,
                                bytes.get("ModelZip") / 1e6));
                for (String v : VARIANTS) {
                    md.append(RepeatFigures.putSpread(variants, v, seconds.get(v)));
                }
                double writeRatio = RepeatFigures.median(seconds.get("write, ModelSerializer"))
                        / RepeatFigures.median(seconds.get("write, ModelZip"));
                double readRatio = RepeatFigures.median(seconds.get("read, ModelSerializer"))
                        / RepeatFigures.median(seconds.get("read, ModelZip"));
                n.put("write_model_serializer_over_model_zip", writeRatio);
                n.put("read_model_serializer_over_model_zip", readRatio);
                md.append(String.format(" %.1f | %.1f |%n", writeRatio, readRatio));
                out.printf("bench-checkpoint: %s done%n", name);
            }
        } finally {
            JobVariants.deleteRecursively(dir);
        }
        outDir.mkdirs();
        Files.writeString(new File(outDir, "checkpoint.json").toPath(),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(report), StandardCharsets.UTF_8);
        Files.writeString(new File(outDir, "checkpoint.md").toPath(), md.toString(), StandardCharsets.UTF_8);
        out.print(md);
    }

    /** Seconds of one write or read; a read checks that the parameters came back whole. */
    private static double time(String variant, ComputationGraph network, Path dir, Map<String, Long> bytes)
            throws IOException {
        boolean dl4j = variant.endsWith("ModelSerializer");
        String writer = dl4j ? "ModelSerializer" : "ModelZip";
        Path file = dir.resolve(writer + ".zip");
        System.gc(); // the last read's network and DL4J's byte arrays are let go before the clock starts
        long start = System.nanoTime();
        if (variant.startsWith("write")) {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 16)) {
                if (dl4j) {
                    ModelSerializer.writeModel(network, out, true);
                } else {
                    ModelZip.write(network, out, true);
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            bytes.put(writer, Files.size(file));
            return seconds;
        }
        ComputationGraph back;
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            back = dl4j ? ModelSerializer.restoreComputationGraph(in, true) : ModelZip.read(in, true);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (back.params().length() != network.params().length()) {
            throw new IllegalStateException(variant + ": " + network.params().length() + " parameters came back as "
                    + back.params().length());
        }
        return seconds;
    }
}
