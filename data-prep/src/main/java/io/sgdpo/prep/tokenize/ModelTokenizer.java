package io.sgdpo.prep.tokenize;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.config.ConfigurationException;
import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A Hugging Face model's own tokenizer, read from the model's folder: {@code tokenizer.json}
 * (through DJL's binding of the Hugging Face tokenizers library, so ids are exactly the model's),
 * {@code config.json} (vocabulary size, BOS/EOS/PAD ids) and, when present,
 * {@code tokenizer_config.json} (its {@code chat_template}).
 *
 * <p>Ids are the tokenizer's, untrimmed. A prompt is encoded as the tokenizer encodes a text with
 * its special tokens (Llama: BOS first; GPT-2: nothing); a response is the tokens it adds after
 * the prompt; prep appends EOS to each response. Its identity is the SHA-256 of
 * {@code tokenizer.json}: two prep outputs with the same identity have the same ids for the same
 * text, and a model whose folder holds another tokenizer.json must not meet this data.
 */
public final class ModelTokenizer implements TokenCodec {
    private static final long serialVersionUID = 1L;

    /** The {@code tokenizer.type} recorded in vocab.json and manifests. */
    public static final String TYPE = "model";
    public static final String TOKENIZER_JSON = "tokenizer.json";
    public static final String TOKENIZER_CONFIG = "tokenizer_config.json";
    public static final String CONFIG = "config.json";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** One native tokenizer per JVM and tokenizer.json, shared by the tasks of an executor. */
    private static final Map<String, HuggingFaceTokenizer> NATIVE = new ConcurrentHashMap<>();

    private final String source;
    private final byte[] tokenizerJson;
    private final String identity;
    private final int size;
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final String bosToken;
    private final ChatTemplate chatTemplate;

    private ModelTokenizer(String source, byte[] tokenizerJson, int size, int bosId, int eosId, int padId,
                           String bosToken, ChatTemplate chatTemplate) {
        this.source = source;
        this.tokenizerJson = tokenizerJson;
        this.identity = "sha256:" + TokenizerSpec.sha256(tokenizerJson);
        this.size = size;
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
        this.bosToken = bosToken;
        this.chatTemplate = chatTemplate;
    }

    /**
     * Reads the tokenizer of the model folder {@code dir} (any Hadoop URI).
     *
     * @throws ConfigurationException naming the file and the field at fault
     */
    public static ModelTokenizer open(String dir, Configuration hconf) {
        Path folder = new Path(dir);
        try {
            FileSystem fs = folder.getFileSystem(hconf);
            folder = fs.makeQualified(folder);
            byte[] tokenizer = read(fs, new Path(folder, TOKENIZER_JSON), true);
            byte[] config = read(fs, new Path(folder, CONFIG), true);
            byte[] tokenizerConfig = read(fs, new Path(folder, TOKENIZER_CONFIG), false);
            return of(folder.toString(), tokenizer, config, tokenizerConfig);
        } catch (IOException e) {
            throw new ConfigurationException("cannot read the tokenizer of model folder " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * The tokenizer from the files' bytes.
     *
     * @param source          the model folder, for messages
     * @param tokenizerJson   tokenizer.json
     * @param configJson      config.json
     * @param tokenizerConfig tokenizer_config.json, or null
     */
    public static ModelTokenizer of(String source, byte[] tokenizerJson, byte[] configJson, byte[] tokenizerConfig) {
        JsonNode config = parse(configJson, source, CONFIG);
        JsonNode tokConfig = tokenizerConfig == null ? JSON.createObjectNode() : parse(tokenizerConfig, source,
                TOKENIZER_CONFIG);
        JsonNode tokenizer = parse(tokenizerJson, source, TOKENIZER_JSON);
        if (!config.path("vocab_size").canConvertToInt() || config.path("vocab_size").asInt() < 1) {
            throw new ConfigurationException(source + "/" + CONFIG + ": vocab_size is missing or not a positive integer");
        }
        int vocabSize = config.path("vocab_size").asInt();
        int tokenizerIds = tokenizerIds(tokenizer, source);
        if (tokenizerIds > vocabSize) {
            throw new ConfigurationException(source + "/" + TOKENIZER_JSON + " defines ids up to " + (tokenizerIds - 1)
                    + ", more than the model's vocab_size " + vocabSize + " (" + CONFIG + ") covers");
        }
        int eos = tokenId(config, "eos_token_id", source);
        if (eos < 0) {
            throw new ConfigurationException(source + "/" + CONFIG + ": eos_token_id is missing; the responses need"
                    + " an end-of-sequence id");
        }
        int bos = tokenId(config, "bos_token_id", source);
        int pad = tokenId(config, "pad_token_id", source);
        for (int id : new int[] {eos, bos, pad}) {
            if (id >= vocabSize) {
                throw new ConfigurationException(source + "/" + CONFIG + ": special token id " + id
                        + " is outside vocab_size " + vocabSize);
            }
        }
        Map<String, String> specials = new LinkedHashMap<>();
        for (String name : new String[] {"bos_token", "eos_token", "unk_token", "pad_token"}) {
            String token = tokenString(tokConfig.path(name));
            if (token != null) {
                specials.put(name, token);
            }
        }
        ChatTemplate template = null;
        JsonNode chat = tokConfig.path("chat_template");
        if (chat.isTextual() && !chat.asText().isBlank()) {
            template = new ChatTemplate(chat.asText(), source + "/" + TOKENIZER_CONFIG, specials);
            try {
                template.check();
            } catch (IllegalArgumentException e) {
                throw new ConfigurationException(e.getMessage(), e);
            }
        } else if (!chat.isMissingNode() && !chat.isNull() && !chat.isTextual()) {
            throw new ConfigurationException(source + "/" + TOKENIZER_CONFIG + ": chat_template is a JSON "
                    + chat.getNodeType().name().toLowerCase() + "; only a single template string is supported");
        }
        ModelTokenizer t = new ModelTokenizer(source, tokenizerJson, vocabSize, bos, eos, pad < 0 ? eos : pad,
                specials.get("bos_token"), template);
        t.tokenizer(); // a tokenizer.json the library refuses fails here, not on an executor
        return t;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int eosId() {
        return eosId;
    }

    @Override
    public int padId() {
        return padId;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    /** The model folder this tokenizer was read from. */
    public String source() {
        return source;
    }

    /** The chat template of tokenizer_config.json, or null when it has none. */
    public ChatTemplate chatTemplate() {
        return chatTemplate;
    }

    /**
     * A prompt as the tokenizer encodes a text with its special tokens. A prompt that already starts
     * with the BOS string (a chat template that writes it) is encoded without them, so BOS is not
     * doubled.
     */
    @Override
    public int[] encodePrompt(String prompt) {
        boolean hasBos = bosToken != null && !bosToken.isEmpty() && prompt.startsWith(bosToken);
        return ids(prompt, !hasBos);
    }

    /**
     * The tokens the response adds when prompt + response is encoded as one text (so that a word
     * split across the boundary, or SentencePiece's leading space, comes out as the model saw such
     * text in training); when the joint encoding does not start with the prompt's own ids, the
     * response is encoded on its own.
     */
    @Override
    public int[] encodeResponse(String prompt, String response) {
        int[] p = encodePrompt(prompt);
        int[] joint = encodePrompt(prompt + response);
        if (joint.length > p.length && Arrays.equals(p, 0, p.length, joint, 0, p.length)) {
            return Arrays.copyOfRange(joint, p.length, joint.length);
        }
        return ids(response, false);
    }

    @Override
    public String decode(int[] ids) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return tokenizer().decode(l, true);
    }

    @Override
    public String identity() {
        return identity;
    }

    /** What, beside tokenizer.json, changes the ids prep writes: part of prep's fingerprint. */
    public String settingsIdentity() {
        return TokenizerSpec.sha256(size + ":" + bosId + ":" + eosId + ":" + padId + ":" + bosToken + ":"
                + (chatTemplate == null ? "" : chatTemplate.identity()));
    }

    /** vocab.json: the tokenizer's identity, its ids, and tokenizer.json itself, so the output stands alone. */
    @Override
    public String toJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("format", Vocabulary.FORMAT_VERSION);
        ObjectNode tok = root.putObject("tokenizer");
        tok.put("type", TYPE);
        tok.put("name", source);
        tok.put("identity", identity);
        root.put("size", size);
        root.put("bosId", bosId);
        root.put("eosId", eosId);
        root.put("padId", padId);
        if (bosToken != null) {
            root.put("bosToken", bosToken);
        }
        root.put("tokenizerJson", new String(tokenizerJson, StandardCharsets.UTF_8));
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static ModelTokenizer fromJson(JsonNode root) {
        if (root.path("format").asInt() != Vocabulary.FORMAT_VERSION) {
            throw new IllegalArgumentException("vocab.json format " + root.path("format") + " is not "
                    + Vocabulary.FORMAT_VERSION);
        }
        byte[] tokenizer = root.path("tokenizerJson").asText().getBytes(StandardCharsets.UTF_8);
        ModelTokenizer t = new ModelTokenizer(root.path("tokenizer").path("name").asText(), tokenizer,
                root.path("size").asInt(), root.path("bosId").asInt(-1), root.path("eosId").asInt(),
                root.path("padId").asInt(), root.hasNonNull("bosToken") ? root.path("bosToken").asText() : null, null);
        if (!t.identity.equals(root.path("tokenizer").path("identity").asText())) {
            throw new IllegalArgumentException("vocab.json: the embedded tokenizer.json does not match its recorded identity "
                    + root.path("tokenizer").path("identity").asText());
        }
        return t;
    }

    private int[] ids(String text, boolean addSpecialTokens) {
        long[] l = tokenizer().encode(text, addSpecialTokens, false).getIds();
        int[] out = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = (int) l[i];
        }
        return out;
    }

    private HuggingFaceTokenizer tokenizer() {
        return NATIVE.computeIfAbsent(identity, id -> {
            // Never reach the network: no model hub look-ups, no usage tracking.
            System.setProperty("ai.djl.offline", "true");
            System.setProperty("OPT_OUT_TRACKING", "true");
            try {
                return HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson),
                        Map.of("truncation", "false", "padding", "false"));
            } catch (IOException | RuntimeException e) {
                throw new ConfigurationException(source + "/" + TOKENIZER_JSON + " cannot be loaded by the tokenizers"
                        + " library: " + e.getMessage(), e);
            }
        });
    }

    /** One past the highest id the tokenizer can produce: its model's vocabulary and its added tokens. */
    private static int tokenizerIds(JsonNode tokenizer, String source) {
        int max = -1;
        JsonNode vocab = tokenizer.path("model").path("vocab");
        if (vocab.isObject()) {
            for (JsonNode id : vocab) {
                max = Math.max(max, id.asInt());
            }
        } else if (vocab.isArray()) { // Unigram: a list of [piece, score]
            max = vocab.size() - 1;
        } else {
            throw new ConfigurationException(source + "/" + TOKENIZER_JSON + ": model.vocab is missing");
        }
        for (JsonNode added : tokenizer.path("added_tokens")) {
            max = Math.max(max, added.path("id").asInt());
        }
        return max + 1;
    }

    private static int tokenId(JsonNode config, String field, String source) {
        JsonNode v = config.path(field);
        if (v.isArray() && !v.isEmpty()) { // Llama 3 lists several EOS ids: the first ends a response
            v = v.get(0);
        }
        if (v.isMissingNode() || v.isNull()) {
            return -1;
        }
        if (!v.canConvertToInt() || v.asInt() < 0) {
            throw new ConfigurationException(source + "/" + CONFIG + ": " + field + " is not a token id: " + v);
        }
        return v.asInt();
    }

    private static String tokenString(JsonNode v) {
        if (v.isTextual()) {
            return v.asText();
        }
        return v.path("content").isTextual() ? v.path("content").asText() : null;
    }

    private static JsonNode parse(byte[] bytes, String source, String file) {
        try {
            JsonNode n = JSON.readTree(bytes);
            if (n == null || !n.isObject()) {
                throw new ConfigurationException(source + "/" + file + " is not a JSON object");
            }
            return n;
        } catch (IOException e) {
            throw new ConfigurationException(source + "/" + file + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    private static byte[] read(FileSystem fs, Path file, boolean required) throws IOException {
        if (!fs.exists(file)) {
            if (required) {
                throw new FileNotFoundException(file + " does not exist (a Hugging Face model folder holds "
                        + CONFIG + " and " + TOKENIZER_JSON + ")");
            }
            return null;
        }
        try (InputStream in = fs.open(file)) {
            return in.readAllBytes();
        }
    }

    @Override
    public String toString() {
        return "ModelTokenizer(" + source + ", " + identity + ")";
    }
}
