package io.sgdpo.bench.train;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One model shape of the PyTorch comparison ({@code sgdpo bench-peer}): the architecture and its
 * sizes, the paired minibatch (B pairs, rows padded to T), and how much work one timed repeat does.
 *
 * @param name         short name, e.g. {@code mid}
 * @param architecture {@code gpt} (the project's {@link io.sgdpo.nn.Decoder}) or {@code llama}
 * @param dModel       model width d
 * @param layers       number of blocks
 * @param heads        query heads
 * @param kvHeads      key/value heads (= heads for gpt)
 * @param ffnHidden    MLP width (4d for gpt)
 * @param vocab        vocabulary size
 * @param length       sequence length T every row is padded to
 * @param pairs        pairs B per minibatch (2B rows)
 * @param trainSteps   optimizer steps per timed repeat of the training figure
 * @param refSteps     reference passes per timed repeat
 * @param genTokens    new tokens per prompt in one timed repeat of greedy generation (B prompts)
 * @param promptLength length of each generation prompt
 */
public record PeerShape(String name, String architecture, int dModel, int layers, int heads, int kvHeads,
                        int ffnHidden, int vocab, int length, int pairs, int trainSteps, int refSteps,
                        int genTokens, int promptLength) {

    /** The shapes the issue names, in the order bench-peer runs them. */
    public static final List<PeerShape> STANDARD = List.of(
            gpt("tiny", 64, 2, 4, 512, 64, 4, 8, 8, 32),
            gpt("mid", 256, 4, 4, 8192, 128, 4, 2, 4, 32),
            gpt("gpt2", 768, 12, 12, 50257, 256, 1, 1, 1, 16),
            // karpathy's stories260K (../shared/models/stories260K): SwiGLU 172, context 512
            new PeerShape("stories260k", "llama", 64, 5, 8, 4, 172, 512, 256, 4, 4, 8, 32, 32),
            // a Llama shape of d 512: SwiGLU width 1536 (8d/3 rounded up to a multiple of 256)
            new PeerShape("llama512", "llama", 512, 8, 8, 4, 1536, 32000, 256, 1, 1, 1, 16, 32));

    /** The shapes of a --quick run: the small ones, one of each architecture. */
    public static final List<String> QUICK = List.of("tiny", "mid", "stories260k");

    public PeerShape {
        if (!architecture.equals("gpt") && !architecture.equals("llama")) {
            throw new IllegalArgumentException("architecture must be gpt or llama, got " + architecture);
        }
        if (dModel % heads != 0 || heads % kvHeads != 0) {
            throw new IllegalArgumentException(name + ": heads must divide d and kv heads must divide heads");
        }
        if (promptLength < 1 || promptLength + genTokens > length) {
            throw new IllegalArgumentException(name + ": prompt + generated tokens must fit in T = " + length);
        }
    }

    private static PeerShape gpt(String name, int d, int layers, int heads, int vocab, int length, int pairs,
                                 int trainSteps, int refSteps, int genTokens) {
        return new PeerShape(name, "gpt", d, layers, heads, heads, 4 * d, vocab, length, pairs, trainSteps, refSteps,
                genTokens, length / 4);
    }

    /** A standard shape by name. */
    public static PeerShape named(String name) {
        for (PeerShape s : STANDARD) {
            if (s.name.equals(name)) {
                return s;
            }
        }
        List<String> names = new ArrayList<>();
        STANDARD.forEach(s -> names.add(s.name));
        throw new IllegalArgumentException("unknown shape '" + name + "'; known: " + names);
    }

    /** Rows x T: the positions one minibatch computes (what the training and reference figures count). */
    public long positions() {
        return 2L * pairs * length;
    }

    /**
     * Matrix-multiply FLOPs of one forward pass per position (2 per multiply-add): projections, MLP,
     * attention over all T keys (the project computes the full T x T scores) and the output head.
     * For gpt this is {@link io.sgdpo.nn.DecoderConfig#forwardFlopsPerToken}.
     */
    public long forwardFlopsPerToken() {
        long d = dModel;
        long kv = (long) kvHeads * (dModel / heads);
        long projections = d * d + 2 * d * kv + d * d;
        long mlp = architecture.equals("llama") ? 3 * d * ffnHidden : 2 * d * ffnHidden;
        long perBlock = 2 * (projections + mlp) + 2L * 2L * length * d;
        return layers * perBlock + 2 * d * vocab;
    }

    /** The {@code model} block of a configuration for this shape (for LanguageModels.create). */
    public Config modelBlock() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architecture", architecture.equals("gpt") ? "decoder" : architecture);
        m.put("dModel", dModel);
        m.put("layers", layers);
        m.put("heads", heads);
        m.put("kvHeads", kvHeads);
        m.put("ffnHidden", ffnHidden);
        m.put("maxLength", length);
        m.put("dropout", 0.0);
        m.put("seed", 42);
        // the rest (llama: RMSNorm eps 1e-5, rotary theta 10000, tied head, no biases, as
        // bench/peer/torch_peer.py) from the defaults in reference.conf
        return ConfigFactory.parseMap(m).withFallback(ConfigFactory.defaultReference().getConfig("model"));
    }

    /** The model arguments of bench/peer/torch_peer.py for this shape. */
    public List<String> pythonArguments() {
        return List.of("--arch", architecture, "--d", String.valueOf(dModel), "--layers", String.valueOf(layers),
                "--heads", String.valueOf(heads), "--kv-heads", String.valueOf(kvHeads), "--ffn",
                String.valueOf(ffnHidden), "--vocab", String.valueOf(vocab), "--length", String.valueOf(length),
                "--gen-tokens", String.valueOf(genTokens));
    }

    /** One line, e.g. "gpt d 256, 4 layers, 4 heads, vocab 8192, T 128, 4 pairs". */
    public String describe() {
        String heads = architecture.equals("llama")
                ? String.format(Locale.ROOT, "%d heads, %d kv heads, SwiGLU %d", this.heads, kvHeads, ffnHidden)
                : this.heads + " heads";
        return String.format(Locale.ROOT, "%s d %d, %d layers, %s, vocab %d, T %d, %d pair%s", architecture, dModel,
                layers, heads, vocab, length, pairs, pairs == 1 ? "" : "s");
    }
}
