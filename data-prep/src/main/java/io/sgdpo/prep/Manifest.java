package io.sgdpo.prep;

import io.sgdpo.output.AtomicOutput;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.config.SgdpoConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * {@code DIR/_manifest.json}: what one stage's output is and what it came from, in the same shape
 * for every stage (prep, ref-logps, sft, train, eval and any new one), so that an exported model
 * can be traced back to the raw data files and the commit that made it.
 *
 * <p>The common part: {@code manifestVersion}, {@code stage}, {@code createdAt},
 * {@code codeVersion} and {@code commit} ({@link CodeVersion}), {@code fingerprint} (the output's
 * identity: equal fingerprint, same output), {@code inputs} (each with its role, path and SHA-256:
 * of the file itself for a raw input, of the input folder's {@code _manifest.json} for a stage
 * output), {@code model} (the model the stage started from or used, with its identity: SHA-256 of a
 * checkpoint's {@code model.zip} or a Hugging Face folder's import identity), {@code config} (the
 * settings that shaped the output) and {@code counts}. Whatever else a stage records sits beside
 * these as a named section (prep's {@code pairs}, {@code vocabulary}, a run's {@code runId}...).
 *
 * <p>A manifest written before this shape ({@code manifestVersion} absent) is read: its common
 * fields where it has them, a ref-logps {@code input}/{@code checkpoint} and a run's
 * {@code data}/{@code init}/{@code run_id} mapped onto the typed fields (without checksums it never
 * recorded). A broken or foreign file is an {@link IOException} naming it.
 *
 * @param version     the manifest's format: {@link #VERSION}, or 1 for one written before it
 * @param stage       the stage that wrote it, e.g. "prep"
 * @param createdAt   ISO-8601 instant
 * @param code        the code that wrote it
 * @param fingerprint the output's identity
 * @param inputs      what the stage read
 * @param model       the model the stage started from or used, or null
 * @param config      the settings under their namespaces
 * @param counts      the stage's counts
 * @param sections    the stage's own top-level sections, by name
 */
public record Manifest(int version, String stage, String createdAt, CodeVersion code, String fingerprint,
                       List<Input> inputs, Model model, ObjectNode config, ObjectNode counts, ObjectNode sections) {

    /** The format this code writes. */
    public static final int VERSION = 2;
    /** The file name in an output folder. */
    public static final String FILE = PairSchema.MANIFEST_FILE;
    /** A manifest larger than this is not one of ours. */
    static final long MAX_BYTES = 16L << 20;

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Set<String> COMMON = Set.of("manifestVersion", "stage", "createdAt", "codeVersion",
            "commit", "fingerprint", "inputs", "model", "config", "counts");

    public Manifest {
        inputs = List.copyOf(inputs);
    }

    /**
     * One input of a stage.
     *
     * @param role    {@link #ROLE_DATA} for a stage's output folder, {@link InputFile#ROLE_INPUT} or
     *                {@link InputFile#ROLE_EVAL_INPUT} for a raw file of prep, or a stage's own role
     *                (eval's {@code gold})
     * @param path    where it was read
     * @param sha256  of the file, or of the folder's {@code _manifest.json} for a stage output; null
     *                where an old manifest did not record it
     * @param details anything else the stage records about it (size, format, the input stage's fingerprint)
     */
    public record Input(String role, String path, String sha256, ObjectNode details) {

        /** The role of an input that is another stage's output folder. */
        public static final String ROLE_DATA = "data";

        /** A stage's output folder: the SHA-256 of its manifest, its stage and its fingerprint. */
        public static Input ofOutput(FileSystem fs, Path dir) throws IOException {
            Path file = new Path(dir, FILE);
            byte[] bytes = readBytes(fs, file);
            Manifest m = parse(new String(bytes, StandardCharsets.UTF_8), file.toString());
            ObjectNode details = JSON.createObjectNode().put("stage", m.stage()).put("fingerprint", m.fingerprint());
            return new Input(ROLE_DATA, fs.makeQualified(dir).toString(), Manifest.sha256(bytes), details);
        }

        /** A single file read whole (e.g. eval's gold answers), with its SHA-256. */
        public static Input ofFile(String role, FileSystem fs, Path file) throws IOException {
            try (InputStream in = fs.open(file)) {
                return new Input(role, fs.makeQualified(file).toString(), Manifest.sha256(in), JSON.createObjectNode());
            }
        }

        /** The value of one of {@link #details}, or a missing node. */
        public JsonNode detail(String key) {
            return details.path(key);
        }
    }

    /**
     * The model a stage started from or used.
     *
     * @param kind    {@link #CHECKPOINT} or {@link #HUGGING_FACE}; null where an old manifest did not say
     * @param path    where it was read
     * @param sha256  a checkpoint's {@code model.zip} SHA-256 or a Hugging Face folder's import
     *                identity; null where an old manifest did not record it
     * @param details anything else the stage records (the architecture, sizes)
     */
    public record Model(String kind, String path, String sha256, ObjectNode details) {

        /** A checkpoint of this project. */
        public static final String CHECKPOINT = "checkpoint";
        /** A Hugging Face folder. */
        public static final String HUGGING_FACE = "huggingface";

        /** A model opened by a stage. */
        public static Model of(UserModel model) {
            return new Model(model.source().huggingFace() ? HUGGING_FACE : CHECKPOINT,
                    model.source().path().toString(), model.identity(), JSON.createObjectNode());
        }

        /** A checkpoint folder, hashed. */
        public static Model checkpoint(FileSystem fs, Path checkpoint) throws IOException {
            return new Model(CHECKPOINT, fs.makeQualified(checkpoint).toString(), Checkpoints.identity(fs, checkpoint),
                    JSON.createObjectNode());
        }

        /** The model with one more detail. */
        public Model with(String key, JsonNode value) {
            ObjectNode d = details.deepCopy();
            d.set(key, value);
            return new Model(kind, path, sha256, d);
        }
    }

    /** A new manifest of {@code stage}, written by the running code. */
    public static Builder builder(String stage) {
        return new Builder(stage);
    }

    /** The value of a stage's own section, or a missing node. */
    public JsonNode section(String name) {
        return sections.path(name);
    }

    /** A count, or 0 when the stage did not record it. */
    public long count(String key) {
        return counts.path(key).asLong(0);
    }

    /** The inputs of {@code role}, in order. */
    public List<Input> inputs(String role) {
        return inputs.stream().filter(i -> role.equals(i.role())).toList();
    }

    /** The manifest as written to {@code _manifest.json}: the common part first, then the sections. */
    public ObjectNode json() {
        ObjectNode m = JSON.createObjectNode();
        m.put("manifestVersion", version);
        m.put("stage", stage);
        m.put("createdAt", createdAt);
        m.put("codeVersion", code.version());
        m.put("commit", code.commit());
        m.put("fingerprint", fingerprint);
        var in = m.putArray("inputs");
        for (Input i : inputs) {
            ObjectNode o = in.addObject().put("role", i.role()).put("path", i.path()).put("sha256", i.sha256());
            o.setAll(i.details());
        }
        if (model != null) {
            ObjectNode o = m.putObject("model").put("kind", model.kind()).put("path", model.path())
                    .put("sha256", model.sha256());
            o.setAll(model.details());
        }
        m.set("config", config.deepCopy());
        m.set("counts", counts.deepCopy());
        m.setAll(sections.deepCopy());
        return m;
    }

    /** Indented JSON, as written to {@code _manifest.json}. */
    public String render() {
        try {
            return JSON.writeValueAsString(json());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes {@code DIR/_manifest.json}, replacing an earlier one (see {@link AtomicOutput#replaceString}). */
    public Path write(FileSystem fs, Path dir) throws IOException {
        Path file = new Path(dir, FILE);
        AtomicOutput.replaceString(fs, file, render());
        return file;
    }

    /**
     * Reads {@code DIR/_manifest.json}.
     *
     * @return null when the folder has none
     * @throws IOException naming the file when it is not a manifest
     */
    public static Manifest readIfPresent(FileSystem fs, Path dir) throws IOException {
        Path file = new Path(dir, FILE);
        if (!fs.isFile(file)) {
            return null;
        }
        return parse(new String(readBytes(fs, file), StandardCharsets.UTF_8), file.toString());
    }

    /**
     * The manifest of a complete prep or ref-logps output at {@code dir} (its manifest and its
     * {@code pairs/} folder), or null when there is none.
     *
     * @throws IOException naming the file when the manifest is there but broken
     */
    public static Manifest readIfComplete(FileSystem fs, Path dir) throws IOException {
        return fs.exists(new Path(dir, PairSchema.PAIRS_DIR)) ? readIfPresent(fs, dir) : null;
    }

    /** SHA-256 of {@code DIR/_manifest.json}'s bytes: how a later stage names this input. */
    public static String fileSha256(FileSystem fs, Path dir) throws IOException {
        return sha256(readBytes(fs, new Path(dir, FILE)));
    }

    /** A manifest file's bytes, refusing one too large to be a manifest. */
    static byte[] readBytes(FileSystem fs, Path file) throws IOException {
        if (!fs.isFile(file)) {
            throw new IOException(file + " does not exist");
        }
        long length = fs.getFileStatus(file).getLen();
        if (length > MAX_BYTES) {
            throw new IOException(file + ": " + length + " bytes, more than a manifest's " + MAX_BYTES
                    + ": not a sgdpo manifest");
        }
        try (InputStream in = fs.open(file)) {
            return in.readAllBytes();
        }
    }

    /**
     * Parses a manifest's text.
     *
     * @param where the file it came from, named in errors
     * @throws IOException naming {@code where} and what is wrong
     */
    public static Manifest parse(String text, String where) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IOException(where + ": not valid JSON (line " + e.getLocation().getLineNr() + "): "
                    + e.getOriginalMessage(), e);
        }
        if (!(root instanceof ObjectNode m)) {
            throw new IOException(where + ": not a sgdpo manifest (a JSON object is expected)");
        }
        int version = m.has("manifestVersion") ? m.get("manifestVersion").asInt(-1) : 1;
        if (!m.path("manifestVersion").isMissingNode() && !m.get("manifestVersion").isInt() || version < 1) {
            throw new IOException(where + ": manifestVersion must be a positive integer, got "
                    + m.get("manifestVersion"));
        }
        if (version > VERSION) {
            throw new IOException(where + ": manifestVersion " + version + " was written by a newer sgdpo (this one"
                    + " reads up to " + VERSION + ")");
        }
        String stage = text(m, "stage", where, true);
        ObjectNode sections = JSON.createObjectNode();
        for (Iterator<Map.Entry<String, JsonNode>> it = m.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!COMMON.contains(e.getKey())) {
                sections.set(e.getKey(), e.getValue());
            }
        }
        List<Input> inputs = new ArrayList<>();
        JsonNode in = m.path("inputs");
        if (!in.isMissingNode() && !in.isArray()) {
            throw new IOException(where + ": inputs must be a list");
        }
        for (int i = 0; i < in.size(); i++) {
            inputs.add(input(in.get(i), where + ": inputs[" + i + "]"));
        }
        Model model = null;
        if (version == 1 && m.path("model").isTextual()) { // an old sft manifest: the model's sizes
            sections.set("shape", m.get("model"));
        } else if (m.has("model")) {
            model = model(m.get("model"), where + ": model");
        }
        if (version == 1) {
            model = legacy(stage, sections, inputs, model);
        }
        return new Manifest(version, stage, text(m, "createdAt", where, false),
                new CodeVersion(text(m, "codeVersion", where, false), m.has("commit") ? text(m, "commit", where, false)
                        : CodeVersion.UNKNOWN_COMMIT), text(m, "fingerprint", where, false), inputs, model,
                object(m, "config", where), object(m, "counts", where), sections);
    }

    /** Maps a manifest written before {@link #VERSION} onto the typed fields (see the class comment). */
    private static Model legacy(String stage, ObjectNode sections, List<Input> inputs, Model model) {
        JsonNode input = sections.path("input");
        JsonNode checkpoint = sections.path("checkpoint");
        if (stage.equals("ref-logps") && input.isObject()) {
            inputs.add(new Input(Input.ROLE_DATA, input.path("dir").asText(), input.path("manifestSha256").asText(null),
                    JSON.createObjectNode().put("stage", "prep").put("fingerprint", input.path("fingerprint").asText())));
            if (model == null && checkpoint.isObject()) {
                model = new Model(Model.CHECKPOINT, checkpoint.path("path").asText(),
                        checkpoint.path("sha256").asText(null), JSON.createObjectNode());
            }
        }
        if (sections.path("data").isTextual()) { // sft and train runs
            inputs.add(new Input(Input.ROLE_DATA, sections.get("data").asText(), null, JSON.createObjectNode()));
        }
        if (model == null && sections.path("init").isTextual()) {
            model = new Model(null, sections.get("init").asText(), null, JSON.createObjectNode());
        }
        if (checkpoint.isTextual()) { // sft's last checkpoint
            sections.set("checkpoint", JSON.createObjectNode().put("path", checkpoint.asText())
                    .put("sha256", sections.path("checkpoint_sha256").asText(null)));
        }
        if (sections.has("run_id")) {
            sections.set("runId", sections.remove("run_id"));
        }
        if (sections.has("total_steps")) {
            sections.set("totalSteps", sections.remove("total_steps"));
        }
        return model;
    }

    private static Input input(JsonNode n, String where) throws IOException {
        ObjectNode o = requireObject(n, where);
        return new Input(text(o, "role", where, false), text(o, "path", where, true), text(o, "sha256", where, false),
                details(o, "role"));
    }

    private static Model model(JsonNode n, String where) throws IOException {
        ObjectNode o = requireObject(n, where);
        return new Model(text(o, "kind", where, false), text(o, "path", where, true), text(o, "sha256", where, false),
                details(o, "kind"));
    }

    private static ObjectNode requireObject(JsonNode n, String where) throws IOException {
        if (!(n instanceof ObjectNode o)) {
            throw new IOException(where + " must be an object");
        }
        return o;
    }

    /** What an input or the model records beyond its typed fields ({@code typedKey}, path, sha256). */
    private static ObjectNode details(ObjectNode o, String typedKey) {
        ObjectNode details = o.deepCopy();
        details.remove(List.of(typedKey, "path", "sha256"));
        return details;
    }

    private static String text(ObjectNode o, String key, String where, boolean required) throws IOException {
        JsonNode v = o.get(key);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IOException(where + ": '" + key + "' is missing: not a sgdpo manifest");
            }
            return null;
        }
        if (!v.isTextual() || (required && v.asText().isEmpty())) {
            throw new IOException(where + ": '" + key + "' must be a" + (required ? " non-empty" : "") + " string, got "
                    + v);
        }
        return v.asText();
    }

    private static ObjectNode object(ObjectNode o, String key, String where) throws IOException {
        JsonNode v = o.get(key);
        if (v == null || v.isNull()) {
            return JSON.createObjectNode();
        }
        if (!(v instanceof ObjectNode obj)) {
            throw new IOException(where + ": '" + key + "' must be an object, got " + v.getNodeType());
        }
        return obj.deepCopy();
    }

    /** Hex SHA-256 of a string's UTF-8 bytes. */
    public static String sha256(String s) {
        return sha256(s.getBytes(StandardCharsets.UTF_8));
    }

    /** Hex SHA-256 of bytes. */
    public static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    private static String sha256(InputStream in) throws IOException {
        MessageDigest d = digest();
        byte[] buffer = new byte[1 << 16];
        for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
            d.update(buffer, 0, n);
        }
        return HexFormat.of().formatHex(d.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Builds the manifest of a stage's output. Without an explicit {@link #fingerprint} the
     * manifest's fingerprint is the SHA-256 over the stage, the inputs' checksums, the model's
     * identity and the config.
     */
    public static final class Builder {
        private final String stage;
        private final List<Input> inputs = new ArrayList<>();
        private final ObjectNode counts = JSON.createObjectNode();
        private final ObjectNode sections = JSON.createObjectNode();
        private ObjectNode config = JSON.createObjectNode();
        private Model model;
        private String fingerprint;

        private Builder(String stage) {
            this.stage = stage;
        }

        public Builder input(Input input) {
            inputs.add(input);
            return this;
        }

        public Builder model(Model m) {
            this.model = m;
            return this;
        }

        /** The settings under {@code namespaces}, as {@link SgdpoConfig#renderJson} renders them. */
        public Builder config(Config c, List<String> namespaces) {
            return config(SgdpoConfig.renderJson(c, namespaces));
        }

        /** The settings, as a JSON object. */
        public Builder config(String json) {
            try {
                this.config = (ObjectNode) JSON.readTree(json);
            } catch (JsonProcessingException | ClassCastException e) {
                throw new IllegalArgumentException("config must be a JSON object: " + e.getMessage(), e);
            }
            return this;
        }

        public Builder count(String key, long value) {
            counts.put(key, value);
            return this;
        }

        public Builder count(String key, JsonNode value) {
            counts.set(key, value);
            return this;
        }

        /** A stage's own top-level section; the names of the common fields are refused. */
        public Builder section(String name, JsonNode value) {
            if (COMMON.contains(name)) {
                throw new IllegalArgumentException("'" + name + "' is a common field of every manifest, not a section");
            }
            sections.set(name, value);
            return this;
        }

        public Builder section(String name, String value) {
            return section(name, JSON.getNodeFactory().textNode(value));
        }

        public Builder section(String name, long value) {
            return section(name, JSON.getNodeFactory().numberNode(value));
        }

        public Builder fingerprint(String f) {
            this.fingerprint = f;
            return this;
        }

        public Manifest build() {
            String fp = fingerprint;
            if (fp == null) {
                ObjectNode n = JSON.createObjectNode().put("stage", stage);
                var in = n.putArray("inputs");
                inputs.forEach(i -> in.addObject().put("role", i.role()).put("path", i.path()).put("sha256", i.sha256()));
                n.put("model", model == null ? null : model.sha256());
                n.set("config", config);
                fp = sha256(n.toString());
            }
            return new Manifest(VERSION, stage, Instant.now().toString(), CodeVersion.current(), fp, inputs, model,
                    config.deepCopy(), counts.deepCopy(), sections.deepCopy());
        }
    }
}
