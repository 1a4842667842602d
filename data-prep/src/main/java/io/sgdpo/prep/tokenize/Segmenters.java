package io.sgdpo.prep.tokenize;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One {@link Segmenter} per tokenizer and JVM: Spark tasks on an executor share it instead of
 * reloading BPE tables (or the native Hugging Face tokenizer) for every partition.
 */
public final class Segmenters {

    private static final Map<String, Segmenter> CACHE = new ConcurrentHashMap<>();

    private Segmenters() {
    }

    /** The segmenter for {@code spec}, created on first use in this JVM. */
    public static Segmenter get(TokenizerSpec spec) {
        return CACHE.computeIfAbsent(spec.identity(), id -> create(spec));
    }

    private static Segmenter create(TokenizerSpec spec) {
        if (TokenizerSpec.JTOKKIT.equals(spec.type())) {
            return new JTokkitSegmenter(spec.name());
        }
        if (TokenizerSpec.HUGGINGFACE.equals(spec.type())) {
            return new HuggingFaceSegmenter(spec.content());
        }
        throw new IllegalArgumentException("Unknown tokenizer type " + spec.type());
    }

    /** Byte-level BPE through JTokkit: a piece is the bytes of one BPE token. */
    static final class JTokkitSegmenter implements Segmenter {
        private final com.knuddels.jtokkit.api.Encoding encoding;
        // Token id -> byte string, filled lazily; racing fills write equal immutable values.
        private final String[] pieces = new String[300_000];

        JTokkitSegmenter(String name) {
            EncodingType type = EncodingType.fromName(name)
                    .orElseThrow(() -> new IllegalArgumentException("Unknown JTokkit encoding " + name));
            this.encoding = Encodings.newLazyEncodingRegistry().getEncoding(type);
        }

        @Override
        public List<String> segment(String text) {
            // Ordinary encoding: "<|endoftext|>" inside user text is text, not a control token.
            IntArrayList ids = encoding.encodeOrdinary(text);
            List<String> out = new ArrayList<>(ids.size());
            for (int i = 0; i < ids.size(); i++) {
                out.add(piece(ids.get(i)));
            }
            return out;
        }

        private String piece(int id) {
            String p = pieces[id];
            if (p == null) {
                IntArrayList one = new IntArrayList(1);
                one.add(id);
                p = new String(encoding.decodeBytes(one), StandardCharsets.ISO_8859_1);
                pieces[id] = p;
            }
            return p;
        }
    }

    /**
     * Any Hugging Face tokenizer.json through DJL. Normalizers (lower-casing, accent stripping) and
     * pre-tokenizers that drop whitespace would make token ids lossy, so a piece is the span of the
     * original text that a token covers; text between spans becomes a piece of its own.
     */
    static final class HuggingFaceSegmenter implements Segmenter {
        static {
            // Never reach the network: no model hub look-ups, no usage tracking.
            System.setProperty("ai.djl.offline", "true");
            System.setProperty("OPT_OUT_TRACKING", "true");
        }

        private final HuggingFaceTokenizer tokenizer;

        HuggingFaceSegmenter(byte[] tokenizerJson) {
            try {
                tokenizer = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(tokenizerJson),
                        Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot load tokenizer.json", e);
            }
        }

        @Override
        public List<String> segment(String text) {
            Encoding enc = tokenizer.encode(text, false, false);
            CharSpan[] spans = enc.getCharTokenSpans();
            List<String> out = new ArrayList<>(spans.length + 4);
            int pos = 0;
            for (CharSpan span : spans) {
                if (span == null) {
                    continue;
                }
                int start = align(text, Math.max(pos, Math.min(span.getStart(), text.length())));
                int end = align(text, Math.min(span.getEnd(), text.length()));
                if (end <= start) {
                    continue;
                }
                if (start > pos) {
                    out.add(bytes(text.substring(pos, start)));
                }
                out.add(bytes(text.substring(start, end)));
                pos = end;
            }
            if (pos < text.length()) {
                out.add(bytes(text.substring(pos)));
            }
            return out;
        }

        /** Moves a boundary that falls inside a surrogate pair past it: a half pair has no UTF-8 form. */
        private static int align(String text, int i) {
            return i > 0 && i < text.length() && Character.isLowSurrogate(text.charAt(i))
                    && Character.isHighSurrogate(text.charAt(i - 1)) ? i + 1 : i;
        }

        private static String bytes(String s) {
            return new String(s.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
        }
    }
}
