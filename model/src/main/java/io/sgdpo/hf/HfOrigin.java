package io.sgdpo.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The small files of the Hugging Face folder a model came from: its configuration, generation
 * defaults and tokenizer ({@link #FILES}, whichever exist). A checkpoint of an imported model keeps
 * them so that an export can write the original configuration and tokenizer back next to the
 * trained weights.
 *
 * @param files file name to content; always holds {@value #CONFIG}
 */
public record HfOrigin(SortedMap<String, byte[]> files) implements Serializable {

    private static final long serialVersionUID = 1L;
    /** The model configuration. */
    public static final String CONFIG = "config.json";
    /** Generation defaults (bos/eos ids, sampling). */
    public static final String GENERATION_CONFIG = "generation_config.json";
    /** The files kept, when present. */
    public static final List<String> FILES = List.of(CONFIG, GENERATION_CONFIG, "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model",
            "added_tokens.json", "chat_template.jinja", "chat_template.json");
    private static final ObjectMapper JSON = new ObjectMapper();

    public HfOrigin {
        TreeMap<String, byte[]> copy = new TreeMap<>();
        files.forEach((name, bytes) -> {
            if (!FILES.contains(name)) {
                throw new IllegalArgumentException("not an origin file: " + name + " (one of " + FILES + ")");
            }
            copy.put(name, bytes.clone());
        });
        if (!copy.containsKey(CONFIG)) {
            throw new IllegalArgumentException("an origin needs its " + CONFIG);
        }
        files = Collections.unmodifiableSortedMap(copy);
    }

    /** The content of a file, or null when the folder had none. */
    public byte[] file(String name) {
        byte[] bytes = files.get(name);
        return bytes == null ? null : bytes.clone();
    }

    /** The parsed {@value #CONFIG}. */
    public JsonNode config() {
        try {
            return JSON.readTree(files.get(CONFIG));
        } catch (IOException e) {
            throw new IllegalStateException(CONFIG + " of this origin is not JSON: " + e.getMessage(), e);
        }
    }

    /** Writes every file into {@code dir} (created if needed), replacing files of the same name. */
    public void write(FileSystem fs, Path dir) throws IOException {
        fs.mkdirs(dir);
        for (Map.Entry<String, byte[]> e : files.entrySet()) {
            try (OutputStream out = fs.create(new Path(dir, e.getKey()), true)) {
                out.write(e.getValue());
            }
        }
    }

    /**
     * Reads the origin files present in {@code dir}.
     *
     * @throws HfFormatException if {@code dir} has no {@value #CONFIG}
     */
    public static HfOrigin read(FileSystem fs, Path dir) throws IOException {
        SortedMap<String, byte[]> files = new TreeMap<>();
        for (String name : FILES) {
            Path file = new Path(dir, name);
            if (fs.isFile(file)) {
                try (InputStream in = fs.open(file)) {
                    files.put(name, in.readAllBytes());
                }
            }
        }
        if (!files.containsKey(CONFIG)) {
            throw new HfFormatException(dir + ": no " + CONFIG + "; a Hugging Face model folder has " + CONFIG
                    + " and model.safetensors (or model.safetensors.index.json with its shards)");
        }
        return new HfOrigin(files);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof HfOrigin other) || !files.keySet().equals(other.files.keySet())) {
            return false;
        }
        return files.entrySet().stream().allMatch(e -> Arrays.equals(e.getValue(), other.files.get(e.getKey())));
    }

    @Override
    public int hashCode() {
        int h = files.keySet().hashCode();
        for (byte[] bytes : files.values()) {
            h = 31 * h + Arrays.hashCode(bytes);
        }
        return h;
    }

    @Override
    public String toString() {
        return "HfOrigin" + files.keySet();
    }
}
