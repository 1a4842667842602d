package io.sgdpo.prep.tokenize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The trimmed vocabulary that the model trains on, in the layout the model module relies on:
 *
 * <ul>
 *   <li>ids 0..255: the 256 byte tokens (id = the byte's unsigned value);</li>
 *   <li>256: EOS, ending a complete response; 257: PAD;</li>
 *   <li>258..258+K-1: the K kept pieces of the base tokenizer, most frequent first.</li>
 * </ul>
 *
 * <p>A piece that was not kept is spelled with its raw UTF-8 bytes as byte tokens, so every text has
 * an encoding and {@code decode(encode(text))} returns exactly {@code text}. Single-byte pieces are
 * never kept as pieces: their byte token already is one id.
 */
public final class Vocabulary implements TokenCodec {
    private static final long serialVersionUID = 1L;

    public static final int BYTE_TOKENS = 256;
    public static final int EOS_ID = 256;
    public static final int PAD_ID = 257;
    public static final int FIRST_PIECE_ID = 258;
    /** Version of the vocab.json layout. */
    public static final int FORMAT_VERSION = 1;

    private final TokenizerSpec spec;
    private final String[] pieces;
    private final long[] counts;
    private transient Map<String, Integer> index;

    private Vocabulary(TokenizerSpec spec, String[] pieces, long[] counts) {
        this.spec = spec;
        this.pieces = pieces;
        this.counts = counts;
    }

    /**
     * Keeps the {@code k} most frequent multi-byte pieces; ties broken by the piece's bytes so the
     * result never depends on the order Spark delivered the counts.
     */
    public static Vocabulary fromCounts(TokenizerSpec spec, Map<String, Long> pieceCounts, int k) {
        List<Map.Entry<String, Long>> entries = new ArrayList<>();
        for (Map.Entry<String, Long> e : pieceCounts.entrySet()) {
            if (e.getKey().length() > 1) {
                entries.add(e);
            }
        }
        entries.sort(BY_COUNT_THEN_BYTES);
        int n = Math.min(k, entries.size());
        String[] p = new String[n];
        long[] c = new long[n];
        for (int i = 0; i < n; i++) {
            p[i] = entries.get(i).getKey();
            c[i] = entries.get(i).getValue();
        }
        return new Vocabulary(spec, p, c);
    }

    /** Descending count, then ascending piece: the order of the kept pieces. */
    public static final Comparator<Map.Entry<String, Long>> BY_COUNT_THEN_BYTES = new EntryOrder();

    private static final class EntryOrder implements Comparator<Map.Entry<String, Long>>, Serializable {
        private static final long serialVersionUID = 1L;

        @Override
        public int compare(Map.Entry<String, Long> a, Map.Entry<String, Long> b) {
            int c = Long.compare(b.getValue(), a.getValue());
            return c != 0 ? c : a.getKey().compareTo(b.getKey());
        }
    }

    /** Total number of ids: 256 bytes + EOS + PAD + kept pieces. */
    @Override
    public int size() {
        return FIRST_PIECE_ID + pieces.length;
    }

    @Override
    public int eosId() {
        return EOS_ID;
    }

    @Override
    public int padId() {
        return PAD_ID;
    }

    /** None: prompts start with their first piece. */
    @Override
    public int bosId() {
        return -1;
    }

    @Override
    public int[] encodePrompt(String prompt) {
        return encode(prompt);
    }

    /** The response alone: pieces never span the prompt/response boundary here. */
    @Override
    public int[] encodeResponse(String prompt, String response) {
        return encode(response);
    }

    @Override
    public String identity() {
        return spec.identity();
    }

    /** Number of kept pieces (K, or fewer if the training split had fewer distinct pieces). */
    public int keptPieces() {
        return pieces.length;
    }

    public TokenizerSpec tokenizer() {
        return spec;
    }

    /** Encodes text with the base tokenizer, then maps its pieces to ids (no EOS appended). */
    public int[] encode(String text) {
        return encodePieces(Segmenters.get(spec).segment(text));
    }

    /** Maps pieces (byte strings, see {@link Segmenter}) to ids, spelling unknown pieces in bytes. */
    public int[] encodePieces(List<String> textPieces) {
        Map<String, Integer> idx = index();
        int[] out = new int[textPieces.size() * 2];
        int n = 0;
        for (String piece : textPieces) {
            Integer id = idx.get(piece);
            if (id != null) {
                out = ensure(out, n + 1);
                out[n++] = id;
            } else {
                out = ensure(out, n + piece.length());
                for (int i = 0; i < piece.length(); i++) {
                    out[n++] = piece.charAt(i);
                }
            }
        }
        return n == out.length ? out : java.util.Arrays.copyOf(out, n);
    }

    /** The UTF-8 bytes that {@code ids} spell; EOS and PAD contribute nothing. */
    public byte[] decodeBytes(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) {
            if (id >= 0 && id < BYTE_TOKENS) {
                out.write(id);
            } else if (id == EOS_ID || id == PAD_ID) {
                continue;
            } else if (id >= FIRST_PIECE_ID && id < size()) {
                byte[] b = pieces[id - FIRST_PIECE_ID].getBytes(StandardCharsets.ISO_8859_1);
                out.write(b, 0, b.length);
            } else {
                throw new IllegalArgumentException("Token id " + id + " outside vocabulary of size " + size());
            }
        }
        return out.toByteArray();
    }

    /** The text that {@code ids} spell; EOS and PAD are skipped. */
    @Override
    public String decode(int[] ids) {
        return new String(decodeBytes(ids), StandardCharsets.UTF_8);
    }

    /** vocab.json: layout, tokenizer identity and every kept piece as hex bytes with its count. */
    @Override
    public String toJson() {
        ObjectMapper om = new ObjectMapper();
        ObjectNode root = om.createObjectNode();
        root.put("format", FORMAT_VERSION);
        ObjectNode tok = root.putObject("tokenizer");
        tok.put("type", spec.type());
        tok.put("name", spec.name());
        tok.put("identity", spec.identity());
        root.put("size", size());
        root.put("byteTokens", BYTE_TOKENS);
        root.put("eosId", EOS_ID);
        root.put("padId", PAD_ID);
        root.put("firstPieceId", FIRST_PIECE_ID);
        ArrayNode arr = root.putArray("pieces");
        HexFormat hex = HexFormat.of();
        for (int i = 0; i < pieces.length; i++) {
            ObjectNode p = arr.addObject();
            p.put("id", FIRST_PIECE_ID + i);
            p.put("hex", hex.formatHex(pieces[i].getBytes(StandardCharsets.ISO_8859_1)));
            p.put("count", counts[i]);
        }
        try {
            return om.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Reads vocab.json. {@code spec} supplies the base tokenizer for {@link #encode}; its identity
     * must match the one recorded in the file, or the ids would mean other pieces.
     */
    public static Vocabulary fromJson(String json, TokenizerSpec spec) {
        try {
            JsonNode root = new ObjectMapper().readTree(json);
            if (root.path("format").asInt() != FORMAT_VERSION) {
                throw new IllegalArgumentException("vocab.json format " + root.path("format") + " is not " + FORMAT_VERSION);
            }
            String identity = root.path("tokenizer").path("identity").asText();
            if (!identity.equals(spec.identity())) {
                throw new IllegalArgumentException("vocab.json was built with tokenizer " + identity
                        + ", not " + spec.identity());
            }
            JsonNode arr = root.path("pieces");
            String[] p = new String[arr.size()];
            long[] c = new long[arr.size()];
            HexFormat hex = HexFormat.of();
            for (int i = 0; i < arr.size(); i++) {
                JsonNode n = arr.get(i);
                if (n.path("id").asInt() != FIRST_PIECE_ID + i) {
                    throw new IllegalArgumentException("vocab.json pieces out of order at index " + i);
                }
                p[i] = new String(hex.parseHex(n.path("hex").asText()), StandardCharsets.ISO_8859_1);
                c[i] = n.path("count").asLong();
            }
            return new Vocabulary(spec, p, c);
        } catch (IOException e) {
            throw new IllegalArgumentException("vocab.json is not valid JSON: " + e.getMessage(), e);
        }
    }

    /** For jtokkit vocabularies, the tokenizer recorded in vocab.json is enough to rebuild it. */
    public static Vocabulary fromJson(String json) {
        try {
            JsonNode tok = new ObjectMapper().readTree(json).path("tokenizer");
            if (!TokenizerSpec.JTOKKIT.equals(tok.path("type").asText())) {
                throw new IllegalArgumentException("vocab.json uses tokenizer " + tok.path("identity").asText()
                        + ": pass its TokenizerSpec");
            }
            return fromJson(json, TokenizerSpec.jtokkit(tok.path("name").asText()));
        } catch (IOException e) {
            throw new IllegalArgumentException("vocab.json is not valid JSON: " + e.getMessage(), e);
        }
    }

    private Map<String, Integer> index() {
        Map<String, Integer> idx = index;
        if (idx == null) {
            idx = new HashMap<>(pieces.length * 2);
            for (int i = 0; i < pieces.length; i++) {
                idx.put(pieces[i], FIRST_PIECE_ID + i);
            }
            index = idx;
        }
        return idx;
    }

    private static int[] ensure(int[] a, int needed) {
        return needed <= a.length ? a : java.util.Arrays.copyOf(a, Math.max(needed, a.length * 2));
    }
}
