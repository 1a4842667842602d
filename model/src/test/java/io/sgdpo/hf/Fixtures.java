package io.sgdpo.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.TokenLogProbs;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.TimeSeriesUtils;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The shared model fixtures ({@code ../shared/models}, system property {@code sgdpo.shared.models}),
 * read in place. A missing fixture fails the test: these tests prove the importer and must not
 * pass by skipping.
 */
final class Fixtures {

    static final String STORIES = "stories260K";
    static final String GPT2 = "tiny-gpt2-random";
    static final String QWEN2 = "tiny-qwen2-random";
    static final ObjectMapper JSON = new ObjectMapper();

    private Fixtures() {
    }

    /** The fixture folder; fails when it is missing. */
    static File dir(String name) {
        String root = System.getProperty("sgdpo.shared.models");
        if (root == null) {
            throw new IllegalStateException("system property sgdpo.shared.models is not set (the parent pom sets it to"
                    + " ../shared/models for surefire)");
        }
        File dir = new File(root, name);
        if (!new File(dir, "config.json").isFile()) {
            throw new IllegalStateException("model fixture missing: " + dir + " (see ../shared/models/README.md)");
        }
        return dir;
    }

    static Path path(String name) {
        return new Path(dir(name).toURI().toString());
    }

    static FileSystem local() throws IOException {
        return FileSystem.getLocal(new Configuration());
    }

    static JsonNode reference(String name) throws IOException {
        return JSON.readTree(new File(dir(name), "reference.json"));
    }

    /** A writable copy of a fixture in {@code parent}, to break one thing in it. */
    static File copy(String name, File parent) throws IOException {
        File target = new File(parent, name);
        target.mkdirs();
        for (File f : dir(name).listFiles()) {
            Files.copy(f.toPath(), new File(target, f.getName()).toPath(), StandardCopyOption.REPLACE_EXISTING);
            new File(target, f.getName()).setWritable(true);
        }
        return target;
    }

    /** A tensor's shape and values. */
    record Values(long[] shape, float[] data) {
    }

    /** Every tensor of a safetensors file, in file order, as float32. */
    static java.util.LinkedHashMap<String, Values> readTensors(File file) throws IOException {
        FileSystem fs = local();
        SafeTensors.Header h = SafeTensors.readHeader(fs, new Path(file.toURI().toString()));
        java.util.LinkedHashMap<String, Values> tensors = new java.util.LinkedHashMap<>();
        SafeTensors.readData(fs, h, null, (t, offset, values, count) -> {
            Values v = tensors.computeIfAbsent(t.name(), n -> new Values(t.shape(), new float[(int) t.length()]));
            System.arraycopy(values, 0, v.data(), (int) offset, count);
        });
        return tensors;
    }

    /** Writes tensors as an F32 safetensors file. */
    static void writeTensors(File file, java.util.Map<String, Values> tensors) throws IOException {
        List<SafeTensors.Output> outputs = new java.util.ArrayList<>();
        tensors.forEach((name, v) -> outputs.add(new SafeTensors.Output(name, v.shape(),
                (offset, out, count) -> System.arraycopy(v.data(), (int) offset, out, 0, count))));
        try (java.io.OutputStream out = new java.io.FileOutputStream(file)) {
            SafeTensors.write(out, outputs, SafeTensors.DType.F32);
        }
    }

    /** Rewrites a JSON file through an edit of its root object. */
    static void editJson(File file, java.util.function.Consumer<com.fasterxml.jackson.databind.node.ObjectNode> edit)
            throws IOException {
        com.fasterxml.jackson.databind.node.ObjectNode root = (com.fasterxml.jackson.databind.node.ObjectNode)
                JSON.readTree(file);
        edit.accept(root);
        JSON.writeValue(file, root);
    }

    static int[] ints(JsonNode array) {
        int[] values = new int[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = array.get(i).asInt();
        }
        return values;
    }

    static double[] doubles(JsonNode array) {
        double[] values = new double[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = array.get(i).asDouble();
        }
        return values;
    }

    /** log p(ids[t+1] | ids[..t]) for every t, from one forward pass of the sequence padded to T. */
    static double[] tokenLogProbs(ComputationGraph graph, int length, int[] ids) {
        INDArray input = new PairedBatch(length, 0).inputs(List.of(ids), DataType.FLOAT);
        INDArray logits = TimeSeriesUtils.reshape3dTo2d(graph.output(false, input)[0]); // row t (one example)
        int[] rows = new int[ids.length - 1];
        int[] targets = new int[ids.length - 1];
        for (int t = 0; t < rows.length; t++) {
            rows[t] = t;
            targets[t] = ids[t + 1];
        }
        return TokenLogProbs.of(logits.castTo(DataType.DOUBLE), rows, targets).values();
    }
}
