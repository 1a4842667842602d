package io.sgdpo.bench.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.bench.prep.RepeatFigures;
import io.sgdpo.cli.SparkSessions;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.SftLoss;
import io.sgdpo.report.Machine;
import io.sgdpo.train.InProcessBroadcast;
import io.sgdpo.train.PackedBroadcast;
import io.sgdpo.train.PackedArray;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.serializer.SerializerInstance;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.spark.api.worker.NetBroadcastTuple;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * What a ParameterAveraging round costs outside the step to ship the model: a decoder's parameters
 * and Adam's state through Spark's serializer and back (a worker's result on its way to the
 * driver) by ND4J's own serialization and packed ({@link PackedArray}), and the round's broadcast
 * by Spark (ND4J's serialization, packed: {@link PackedBroadcast}) and in-process in local mode
 * ({@link InProcessBroadcast}).
 * Milliseconds per round, median over the repeats, at the decoder {@code sgdpo train} trains by
 * default (bench-train's job of 16 steps) and at bench-peer's mid shape. Adam's state is filled with
 * random values, as after training, so that Spark's compression of the broadcast sees real data.
 */
public final class WireBenchmark {

    private WireBenchmark() {
    }

    /** The ways one round's arrays travel, timed per repeat. */
    private static final List<String> VARIANTS = List.of("result, ND4J serialization", "result, packed",
            "broadcast, Spark, ND4J serialization", "broadcast, Spark, packed", "broadcast, in-process");

    public static void run(int repeats, File outDir, PrintStream out) throws IOException {
        Map<String, DecoderConfig> shapes = new LinkedHashMap<>();
        shapes.put("default decoder (bench-train's job)", DecoderConfig.fromConfig(
                SgdpoConfig.reference().getConfig("model"), 2983));
        shapes.put("mid", new DecoderConfig(8192, 256, 4, 4, 128, 0.0, 42));
        ObjectMapper json = new ObjectMapper();
        ObjectNode report = json.createObjectNode();
        report.put("benchmark", "wire");
        report.put("date", Instant.now().toString());
        report.put("command", "./sgdpo bench-wire --repeats " + repeats);
        report.set("machine", Machine.describe());
        ArrayNode results = report.putArray("shapes");
        StringBuilder md = new StringBuilder("# ParameterAveraging's arrays on the wire\n\nCommand: `")
                .append(report.get("command").asText()).append("`; milliseconds per round, median (min-max) of ")
                .append(repeats).append(" repeats after one warm-up; Spark local[2].\n\n| shape | parameters |");
        for (String v : VARIANTS) {
            md.append(' ').append(v).append(" |");
        }
        md.append("\n|---|---|").append("---|".repeat(VARIANTS.size())).append('\n');
        SparkSession spark = SparkSessions.start("bench-wire", Map.of("spark.master", "local[2]",
                "spark.ui.enabled", "false"));
        try {
            JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            for (Map.Entry<String, DecoderConfig> shape : shapes.entrySet()) {
                ComputationGraph network = Decoder.create(shape.getValue(), new SftLoss(), new Adam(1e-3),
                        DataType.FLOAT);
                INDArray state = network.getUpdater().getStateViewArray();
                state.assign(Nd4j.rand(DataType.FLOAT, state.shape()).muli(1e-3));
                Map<String, double[]> ms = new LinkedHashMap<>();
                VARIANTS.forEach(v -> ms.put(v, new double[repeats]));
                for (int r = -1; r < repeats; r++) {
                    for (String v : VARIANTS) {
                        double t = time(v, sc, network);
                        if (r >= 0) {
                            ms.get(v)[r] = t;
                        }
                    }
                }
                ObjectNode n = results.addObject();
                n.put("shape", shape.getKey());
                n.put("model", shape.getValue().toString());
                n.put("parameters", network.params().length());
                n.put("updater_state", state.length());
                ObjectNode variants = n.putObject("ms_per_round");
                md.append("| ").append(shape.getKey()).append(" | ")
                        .append(String.format("%,d", network.params().length())).append(" |");
                for (String v : VARIANTS) {
                    md.append(RepeatFigures.putSpread(variants, v, ms.get(v)));
                }
                md.append('\n');
                out.printf("bench-wire: %s done%n", shape.getKey());
            }
        } finally {
            spark.stop();
        }
        outDir.mkdirs();
        Files.writeString(new File(outDir, "wire.json").toPath(),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(report), StandardCharsets.UTF_8);
        Files.writeString(new File(outDir, "wire.md").toPath(), md.toString(), StandardCharsets.UTF_8);
        out.print(md);
    }

    /** Milliseconds of one round's journey of the network's parameters and Adam's state, one way. */
    private static double time(String variant, JavaSparkContext sc, ComputationGraph network) {
        INDArray params = network.params();
        INDArray state = network.getUpdater().getStateViewArray();
        long start = System.nanoTime();
        switch (variant) {
            case "result, ND4J serialization" -> {
                INDArray[] back = (INDArray[]) roundTrip(new INDArray[] {params, state});
                requireSameLength(back[0], params);
            }
            case "result, packed" -> {
                PackedArray[] back = (PackedArray[]) roundTrip(new PackedArray[] {PackedArray.of(params),
                        PackedArray.of(state)});
                requireSameLength(back[0].unpack(), params);
                back[1].unpack();
            }
            case "broadcast, Spark, ND4J serialization" ->
                    sc.broadcast(new NetBroadcastTuple(network.getConfiguration(), params, state)).destroy();
            case "broadcast, Spark, packed" ->
                    sc.broadcast(new PackedBroadcast(network.getConfiguration(), params, state)).destroy();
            case "broadcast, in-process" -> {
                Broadcast<NetBroadcastTuple> b = InProcessBroadcast.of(new NetBroadcastTuple(
                        network.getConfiguration(), params, state), NetBroadcastTuple.class);
                b.value();
                b.destroy();
            }
            default -> throw new IllegalArgumentException(variant);
        }
        return (System.nanoTime() - start) / 1e6;
    }

    /** Through Spark's serializer, as Spark carries a task's result. */
    private static Object roundTrip(Object o) {
        SerializerInstance serializer = SparkEnv.get().serializer().newInstance();
        ClassTag<Object> tag = ClassTag$.MODULE$.apply(Object.class);
        return serializer.deserialize(serializer.serialize(o, tag), tag);
    }

    private static void requireSameLength(INDArray back, INDArray sent) {
        if (back.length() != sent.length()) {
            throw new IllegalStateException("an array of " + sent.length() + " came back with " + back.length());
        }
    }
}
