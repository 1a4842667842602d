package io.sgdpo.prep.tokenize;

import io.sgdpo.config.ConfigurationException;
import com.typesafe.config.Config;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Which base tokenizer to use, in a form that can be shipped to Spark executors: the JTokkit
 * encoding name, or the full bytes of a Hugging Face {@code tokenizer.json} (read once on the
 * driver, so executors never need the file system path).
 *
 * @param type     {@code jtokkit} or {@code huggingface}
 * @param name     the JTokkit encoding name, or the tokenizer.json path for Hugging Face
 * @param content  the tokenizer.json bytes (Hugging Face only; empty otherwise)
 * @param identity a stable identity recorded in manifests and vocab.json
 */
public record TokenizerSpec(String type, String name, byte[] content, String identity) implements Serializable {

    public static final String JTOKKIT = "jtokkit";
    public static final String HUGGINGFACE = "huggingface";
    /** The JTokkit version on the classpath: part of the identity, since BPE tables could change. */
    static final String JTOKKIT_VERSION = "1.1.0";

    /** The default GPT-2 BPE tokenizer. */
    public static TokenizerSpec gpt2() {
        return jtokkit("r50k_base");
    }

    public static TokenizerSpec jtokkit(String encodingName) {
        return new TokenizerSpec(JTOKKIT, encodingName, new byte[0],
                "jtokkit:" + JTOKKIT_VERSION + ":" + encodingName);
    }

    public static TokenizerSpec huggingFace(String path, byte[] tokenizerJson) {
        return new TokenizerSpec(HUGGINGFACE, path, tokenizerJson, "huggingface:sha256:" + sha256(tokenizerJson));
    }

    /** Reads {@code tokenizer.type}, {@code tokenizer.name} and {@code tokenizer.path}. */
    public static TokenizerSpec fromConfig(Config config, Configuration hadoopConf) {
        String type = config.getString("tokenizer.type").trim().toLowerCase(Locale.ROOT);
        switch (type) {
            case JTOKKIT: {
                String name = config.getString("tokenizer.name");
                if (com.knuddels.jtokkit.api.EncodingType.fromName(name).isEmpty()) {
                    throw new ConfigurationException("tokenizer.name: unknown JTokkit encoding '" + name
                            + "' (r50k_base, p50k_base, p50k_edit, cl100k_base, o200k_base)");
                }
                return jtokkit(name);
            }
            case HUGGINGFACE: {
                String path = config.getString("tokenizer.path");
                if (path.isBlank()) {
                    throw new ConfigurationException("tokenizer.path must name a tokenizer.json when tokenizer.type = huggingface");
                }
                Path p = new Path(path);
                try {
                    FileSystem fs = p.getFileSystem(hadoopConf);
                    try (InputStream in = fs.open(p)) {
                        return huggingFace(fs.makeQualified(p).toString(), in.readAllBytes());
                    }
                } catch (IOException e) {
                    throw new ConfigurationException("tokenizer.path: cannot read " + path + ": " + e.getMessage(), e);
                }
            }
            default:
                throw new ConfigurationException("tokenizer.type: '" + type + "' is not one of jtokkit, huggingface");
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha256(String s) {
        return sha256(s.getBytes(StandardCharsets.UTF_8));
    }
}
