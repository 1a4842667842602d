package io.sgdpo.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.nn.LanguageModelLayer;
import io.sgdpo.nn.LanguageModels;
import io.sgdpo.nn.Optimization;
import io.sgdpo.nn.SftLoss;
import io.sgdpo.nn.WeightTable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.NoOp;

/**
 * Hugging Face model folders in, Hugging Face model folders out, on any Hadoop file system.
 *
 * <p>A folder holds {@code config.json} (model_type llama, qwen2, mistral or gpt2; see
 * {@link HfConfig} for what is accepted), the weights in {@code model.safetensors} or shards listed
 * by {@code model.safetensors.index.json}, and tokenizer files. The weights map to the model's
 * parameters through the architecture's {@link WeightTable}; tensors may carry transformers'
 * {@code model.}/{@code transformer.} prefix or not.
 *
 * <p>Import validates everything before it reads a single tensor: configuration, tokenizer size,
 * every file's header, the index, and every tensor's presence and shape; an error names the file
 * and the fault and returns nothing.
 */
public final class HfModels {

    /** The single-file weights. */
    public static final String WEIGHTS = "model.safetensors";
    /** The index of sharded weights. */
    public static final String INDEX = "model.safetensors.index.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private HfModels() {
    }

    /** Whether {@code dir} looks like a Hugging Face model folder: it has config.json and no model.zip. */
    public static boolean isHfFolder(FileSystem fs, Path dir) throws IOException {
        return fs.isFile(new Path(dir, HfOrigin.CONFIG)) && !fs.exists(new Path(dir, "model.zip"));
    }

    /**
     * An imported model.
     *
     * @param graph    the model, float32, built for the requested sequence length, with an SFT loss
     *                 and a no-op updater: callers apply {@link LanguageModels#withLoss} before training
     * @param origin   the folder's configuration and tokenizer files
     * @param identity SHA-256 (hex) over config.json and the weight files (index, then shards, by name)
     */
    public record Imported(ComputationGraph graph, HfOrigin origin, String identity) {
    }

    /**
     * Imports a Hugging Face folder.
     *
     * @param maxLength sequence length T to build the graph for; at most the model's
     *                  max_position_embeddings (n_positions for GPT-2)
     * @throws HfFormatException naming the file and the fault when the folder cannot be imported
     */
    public static Imported load(FileSystem fs, Path dir, int maxLength) throws IOException {
        HfOrigin origin = HfOrigin.read(fs, dir);
        Path configFile = new Path(dir, HfOrigin.CONFIG);
        JsonNode config;
        try {
            config = JSON.readTree(origin.file(HfOrigin.CONFIG));
        } catch (IOException e) {
            throw new HfFormatException(configFile + ": not valid JSON: " + e.getMessage(), e);
        }
        LanguageModelLayer layer = HfConfig.layer(config, configFile.toString(), maxLength);
        checkTokenizer(origin, dir, layer.getVocabSize());
        List<Path> files = weightFiles(fs, dir);
        Map<Path, SafeTensors.Header> headers = new LinkedHashMap<>();
        for (Path file : files) {
            if (file.getName().endsWith(".safetensors")) {
                headers.put(file, SafeTensors.readHeader(fs, file));
            }
        }
        if (files.get(0).getName().equals(INDEX)) {
            checkIndex(fs, files.get(0), headers);
        }
        WeightTable table = layer.weightTable();
        Plan plan = plan(table, headers, dir);
        // everything validated: now allocate the model and read the tensors
        long total = table.entries().stream().mapToLong(WeightTable.Entry::length).sum();
        ComputationGraph graph = LanguageModels.withParameters(layer, Nd4j.zeros(DataType.FLOAT, 1, total),
                new SftLoss(), new Optimization(new NoOp(), 0, 0), 0);
        MessageDigest digest = sha256();
        digest.update(origin.file(HfOrigin.CONFIG));
        copyTensors(fs, files, headers, plan, graph, table, digest, configFile);
        return new Imported(graph, origin, HexFormat.of().formatHex(digest.digest()));
    }

    /**
     * Streams every weight file once, in order (hashing each whole file), copying each planned
     * tensor into its parameter.
     */
    private static void copyTensors(FileSystem fs, List<Path> files, Map<Path, SafeTensors.Header> headers, Plan plan,
                                    ComputationGraph graph, WeightTable table, MessageDigest digest, Path configFile)
            throws IOException {
        Map<String, INDArray> targets = new HashMap<>();
        for (WeightTable.Entry e : table.entries()) {
            INDArray target = flat(graph.getLayer(LanguageModels.MODEL).getParam(e.param()));
            if (target.length() != e.length()) {
                throw new IllegalStateException("weight table: " + e + " does not fit parameter " + e.param() + " of "
                        + target.length() + " elements");
            }
            targets.put(e.param(), target);
        }
        WeightTable.Entry embedding = table.entries().get(0);
        float[] tiedCopy = plan.tiedHead() == null ? null : new float[(int) embedding.length()];
        for (Path file : files) {
            SafeTensors.Header header = headers.get(file);
            if (header == null) { // the index: hashed as it is
                try (InputStream in = new DigestInputStream(fs.open(file), digest)) {
                    in.transferTo(OutputStream.nullOutputStream());
                }
                continue;
            }
            SafeTensors.readData(fs, header, digest, (tensor, offset, values, count) -> {
                Located located = new Located(file, tensor.name());
                String param = plan.params().get(located);
                if (param != null) {
                    targets.get(param).get(NDArrayIndex.interval(offset, offset + count))
                            .assign(Nd4j.createFromArray(Arrays.copyOf(values, count)));
                } else if (located.equals(plan.tiedHead())) {
                    System.arraycopy(values, 0, tiedCopy, (int) offset, count);
                }
            });
        }
        if (tiedCopy != null && !Arrays.equals(targets.get(embedding.param()).toFloatVector(), tiedCopy)) {
            throw new HfFormatException(plan.tiedHead().file() + ": lm_head.weight differs from the embedding, but "
                    + configFile + " ties them (tie_word_embeddings)");
        }
    }

    /** A tensor in a file. */
    private record Located(Path file, String name) {
    }

    /** Which tensor fills which parameter, and where a redundant copy of a tied head sits. */
    private record Plan(Map<Located, String> params, Located tiedHead) {
    }

    private static Plan plan(WeightTable table, Map<Path, SafeTensors.Header> headers, Path dir)
            throws HfFormatException {
        Map<String, Located> byName = new TreeMap<>();
        Map<String, long[]> shapes = new HashMap<>();
        for (SafeTensors.Header h : headers.values()) {
            for (SafeTensors.Tensor t : h.tensors().values()) {
                String name = t.name().startsWith(table.prefix()) ? t.name().substring(table.prefix().length())
                        : t.name();
                Located previous = byName.put(name, new Located(h.file(), t.name()));
                if (previous != null) {
                    throw new HfFormatException(h.file() + ": tensor '" + t.name() + "' appears twice (also as '"
                            + previous.name() + "' in " + previous.file() + ")");
                }
                shapes.put(name, t.shape());
            }
        }
        Map<Located, String> params = new HashMap<>();
        for (WeightTable.Entry e : table.entries()) {
            Located found = byName.remove(e.hfName());
            if (found == null) {
                throw new HfFormatException(dir + ": missing tensor '" + e.fullName(table.prefix()) + "', which "
                        + HfOrigin.CONFIG + " implies (in " + String.join(", ", headers.keySet().stream()
                        .map(Path::getName).toList()) + ")");
            }
            if (!Arrays.equals(shapes.get(e.hfName()), e.hfShape())) {
                throw new HfFormatException(found.file() + ": tensor '" + found.name() + "' has shape "
                        + Arrays.toString(shapes.get(e.hfName())) + " but " + HfOrigin.CONFIG + " implies "
                        + Arrays.toString(e.hfShape()));
            }
            params.put(found, e.param());
        }
        Located tiedHead = null;
        WeightTable.Entry embedding = table.entries().get(0);
        if (byName.containsKey("lm_head.weight") && table.entries().stream().noneMatch(e -> e.hfName()
                .equals("lm_head.weight"))) {
            // some exports write the tied head anyway: accepted only if it is the embedding
            if (!Arrays.equals(shapes.get("lm_head.weight"), embedding.hfShape())) {
                Located l = byName.get("lm_head.weight");
                throw new HfFormatException(l.file() + ": tensor 'lm_head.weight' has shape "
                        + Arrays.toString(shapes.get("lm_head.weight")) + " but the tied head is the embedding "
                        + Arrays.toString(embedding.hfShape()));
            }
            tiedHead = byName.remove("lm_head.weight");
        }
        byName.keySet().removeIf(table::isIgnored);
        if (!byName.isEmpty()) {
            Located first = byName.values().iterator().next();
            throw new HfFormatException(first.file() + ": unexpected tensor" + (byName.size() > 1 ? "s " : " ")
                    + byName.values().stream().map(Located::name).toList() + ", not part of the model "
                    + HfOrigin.CONFIG + " describes");
        }
        return new Plan(params, tiedHead);
    }

    /** The weight files: model.safetensors alone, or the index followed by its shards in name order. */
    private static List<Path> weightFiles(FileSystem fs, Path dir) throws IOException {
        Path single = new Path(dir, WEIGHTS);
        Path index = new Path(dir, INDEX);
        if (fs.isFile(single)) {
            if (fs.isFile(index)) {
                throw new HfFormatException(dir + ": both " + WEIGHTS + " and " + INDEX + "; keep one");
            }
            return List.of(single);
        }
        if (!fs.isFile(index)) {
            throw new HfFormatException(dir + ": no " + WEIGHTS + " and no " + INDEX + " (weights must be"
                    + " safetensors: save_pretrained(..., safe_serialization=True) writes them)");
        }
        JsonNode map = readJson(fs, index).get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new HfFormatException(index + ": no weight_map");
        }
        TreeSet<String> shards = new TreeSet<>();
        map.fields().forEachRemaining(e -> shards.add(e.getValue().asText()));
        List<Path> files = new ArrayList<>();
        files.add(index);
        for (String shard : shards) {
            Path file = new Path(dir, shard);
            if (shard.contains("/") || !fs.isFile(file)) {
                throw new HfFormatException(index + ": shard '" + shard + "' is missing from " + dir);
            }
            files.add(file);
        }
        return files;
    }

    /** The index must name exactly the tensors its shards hold, each in its own shard. */
    private static void checkIndex(FileSystem fs, Path index, Map<Path, SafeTensors.Header> headers)
            throws IOException {
        JsonNode map = readJson(fs, index).get("weight_map");
        Map<String, String> listed = new HashMap<>();
        map.fields().forEachRemaining(e -> listed.put(e.getKey(), e.getValue().asText()));
        for (SafeTensors.Header h : headers.values()) {
            for (String name : h.tensors().keySet()) {
                String shard = listed.remove(name);
                if (!h.file().getName().equals(shard)) {
                    throw new HfFormatException(h.file() + ": tensor '" + name + "' is not listed in " + index
                            + (shard == null ? "" : " (which puts it in " + shard + ")"));
                }
            }
        }
        if (!listed.isEmpty()) {
            Map.Entry<String, String> e = listed.entrySet().iterator().next();
            throw new HfFormatException(index + ": lists tensor '" + e.getKey() + "' in " + e.getValue()
                    + ", which does not hold it");
        }
    }

    /** A tokenizer with more ids than the model has embeddings would index past the embedding. */
    private static void checkTokenizer(HfOrigin origin, Path dir, int vocabSize) throws HfFormatException {
        for (String name : List.of("tokenizer.json", "vocab.json", "added_tokens.json")) {
            byte[] bytes = origin.file(name);
            if (bytes == null) {
                continue;
            }
            Path file = new Path(dir, name);
            JsonNode root;
            try {
                root = JSON.readTree(bytes);
            } catch (IOException e) {
                throw new HfFormatException(file + ": not valid JSON: " + e.getMessage(), e);
            }
            long maxId = name.equals("tokenizer.json") ? maxTokenizerId(root) : maxValue(root);
            if (maxId >= vocabSize) {
                throw new HfFormatException(file + ": has token ids up to " + maxId + " (" + (maxId + 1)
                        + " ids) but " + HfOrigin.CONFIG + " says vocab_size " + vocabSize
                        + ": the tokenizer does not belong to this model");
            }
        }
    }

    private static long maxTokenizerId(JsonNode tokenizer) {
        long max = -1;
        JsonNode vocab = tokenizer.path("model").path("vocab");
        if (vocab.isObject()) { // BPE, WordPiece, WordLevel: token -> id
            max = maxValue(vocab);
        } else if (vocab.isArray()) { // Unigram: [piece, score] per id
            max = vocab.size() - 1;
        }
        for (JsonNode added : tokenizer.path("added_tokens")) {
            max = Math.max(max, added.path("id").asLong(-1));
        }
        return max;
    }

    private static long maxValue(JsonNode object) {
        long max = -1;
        for (Iterator<JsonNode> it = object.elements(); it.hasNext(); ) {
            max = Math.max(max, it.next().asLong(-1));
        }
        return max;
    }

    /**
     * Writes {@code graph} as a Hugging Face folder: {@code model.safetensors} with the
     * architecture's tensor names and layouts (with transformers' prefix; a tied head is not
     * written twice), {@code config.json} (the origin's with {@code torch_dtype} set to what is
     * written, or one generated from the model's sizes when there is no origin), {@code
     * generation_config.json} (the origin's, or bos/eos ids from the config) and the origin's
     * tokenizer files. A model trained from scratch (no origin) gets no tokenizer files: the caller
     * adds its own. The folder is written under a temporary sibling name and renamed at the end.
     *
     * @param origin     the folder the model came from, or null for a model trained from scratch
     * @param dtype      {@code "f32"} or {@code "bf16"} (rounded to nearest even)
     * @param extraFiles further files of the folder by name (e.g. the model's provenance), written
     *                   before the rename like the rest
     * @throws IllegalArgumentException for a decoder (it has no Hugging Face counterpart), an
     *                                  origin that describes another model, or a bad dtype
     * @throws IOException              if {@code outDir} exists and is not empty, or writing fails
     */
    public static void export(ComputationGraph graph, HfOrigin origin, FileSystem fs, Path outDir, String dtype,
                              Map<String, byte[]> extraFiles) throws IOException {
        for (String name : extraFiles.keySet()) {
            if (name.contains("/") || name.equals(WEIGHTS) || name.equals(HfOrigin.CONFIG)
                    || name.equals(HfOrigin.GENERATION_CONFIG) || (origin != null && origin.file(name) != null)) {
                throw new IllegalArgumentException("export: extra file '" + name + "' would replace a file of the"
                        + " Hugging Face folder");
            }
        }
        SafeTensors.DType type = switch (dtype.toLowerCase(Locale.ROOT)) {
            case "f32" -> SafeTensors.DType.F32;
            case "bf16" -> SafeTensors.DType.BF16;
            default -> throw new IllegalArgumentException("export dtype must be f32 or bf16, got '" + dtype + "'");
        };
        String torchDtype = type == SafeTensors.DType.F32 ? "float32" : "bfloat16";
        LanguageModelLayer layer = LanguageModels.wholeModel(graph.getConfiguration());
        if (layer == null) {
            throw new IllegalArgumentException("the decoder architecture has no Hugging Face counterpart and cannot be"
                    + " exported; train with model.architecture = llama or gpt2 (or import a Hugging Face model) to"
                    + " export one");
        }
        ObjectNode config;
        if (origin == null) {
            config = HfConfig.generate(layer, torchDtype);
        } else {
            requireSameModel(layer, origin);
            config = (ObjectNode) origin.config();
            config.put("torch_dtype", torchDtype);
            if (config.has("dtype")) {
                config.put("dtype", torchDtype);
            }
        }
        if (fs.exists(outDir) && (!fs.getFileStatus(outDir).isDirectory() || fs.listStatus(outDir).length > 0)) {
            throw new IOException("export target " + outDir + " exists and is not an empty directory; choose a new"
                    + " one");
        }
        Path tmp = new Path(outDir.getParent(), "_tmp-" + outDir.getName() + "-" + UUID.randomUUID());
        fs.mkdirs(tmp);
        try {
            if (origin != null) {
                origin.write(fs, tmp);
            }
            writeJson(fs, new Path(tmp, HfOrigin.CONFIG), config);
            if (origin == null || origin.file(HfOrigin.GENERATION_CONFIG) == null) {
                writeJson(fs, new Path(tmp, HfOrigin.GENERATION_CONFIG), generationConfig(config));
            }
            WeightTable table = layer.weightTable();
            List<SafeTensors.Output> tensors = new ArrayList<>();
            for (WeightTable.Entry e : table.entries()) {
                INDArray values = flat(graph.getLayer(LanguageModels.MODEL).getParam(e.param()));
                tensors.add(new SafeTensors.Output(e.fullName(table.prefix()), e.hfShape(), (offset, out, count) -> {
                    float[] chunk = values.get(NDArrayIndex.interval(offset, offset + count)).toFloatVector();
                    System.arraycopy(chunk, 0, out, 0, count);
                }));
            }
            try (OutputStream out = fs.create(new Path(tmp, WEIGHTS), false)) {
                SafeTensors.write(out, tensors, type);
            }
            for (Map.Entry<String, byte[]> f : extraFiles.entrySet()) {
                try (OutputStream out = fs.create(new Path(tmp, f.getKey()), false)) {
                    out.write(f.getValue());
                }
            }
            if (fs.exists(outDir)) {
                fs.delete(outDir, false); // empty: checked above; rename would move tmp inside it
            }
            if (!fs.rename(tmp, outDir)) {
                throw new IOException("could not rename " + tmp + " to " + outDir);
            }
        } finally {
            if (fs.exists(tmp)) {
                fs.delete(tmp, true);
            }
        }
    }

    /** {@link #export(ComputationGraph, HfOrigin, FileSystem, Path, String, Map)} without extra files. */
    public static void export(ComputationGraph graph, HfOrigin origin, FileSystem fs, Path outDir, String dtype)
            throws IOException {
        export(graph, origin, fs, outDir, dtype, Map.of());
    }

    /** The origin's config must describe the graph's model (any sequence length). */
    private static void requireSameModel(LanguageModelLayer layer, HfOrigin origin) {
        LanguageModelLayer described;
        try {
            described = HfConfig.layer(origin.config(), "the origin's " + HfOrigin.CONFIG, 1);
        } catch (HfFormatException e) {
            throw new IllegalArgumentException("the origin's " + HfOrigin.CONFIG + " does not describe a model this"
                    + " project exports: " + e.getMessage(), e);
        }
        if (!described.equals(layer.withLength(1))) {
            throw new IllegalArgumentException("the origin's " + HfOrigin.CONFIG + " describes another model ("
                    + described.shape() + ") than the one exported (" + layer.shape() + ")");
        }
    }

    private static ObjectNode generationConfig(JsonNode config) {
        ObjectNode g = JSON.createObjectNode();
        g.put("_from_model_config", true);
        for (String id : List.of("bos_token_id", "eos_token_id", "pad_token_id")) {
            if (config.has(id) && !config.get(id).isNull()) {
                g.set(id, config.get(id));
            }
        }
        return g;
    }

    /**
     * A parameter as a flat view of its elements in row-major order: parameters are contiguous
     * 'c'-ordered views into the graph's parameter vector, so the reshape is a view too and writes
     * into it land in the graph.
     */
    private static INDArray flat(INDArray param) {
        INDArray flat = param.reshape(param.length());
        if (param.ordering() != 'c' || !flat.isView() && param.isView()) {
            throw new IllegalStateException("parameter of shape " + Arrays.toString(param.shape())
                    + " is not a contiguous row-major view");
        }
        return flat;
    }

    private static JsonNode readJson(FileSystem fs, Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return JSON.readTree(in);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new HfFormatException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static void writeJson(FileSystem fs, Path file, JsonNode json) throws IOException {
        try (OutputStream out = fs.create(file, true)) {
            out.write(JSON.writeValueAsBytes(json));
            out.write('\n');
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** For tests: the files of a folder, by name. */
    static List<String> names(FileSystem fs, Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        for (FileStatus s : fs.listStatus(dir)) {
            names.add(s.getPath().getName());
        }
        names.sort(null);
        return names;
    }
}
