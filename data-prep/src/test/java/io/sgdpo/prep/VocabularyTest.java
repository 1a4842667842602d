package io.sgdpo.prep;

import io.sgdpo.prep.tokenize.Segmenter;
import io.sgdpo.prep.tokenize.Segmenters;
import io.sgdpo.prep.tokenize.TokenizerSpec;
import io.sgdpo.prep.tokenize.Vocabulary;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VocabularyTest {

    static final String TEXTS = "The cat sat on the mat. The cat ate. Ünïcödé — 你好 🙂🙂 \r\n\ttabs  and  spaces <|endoftext|>";

    /** A tiny word-level tokenizer.json: lower-cases, splits on whitespace and punctuation. */
    static final String TINY_TOKENIZER = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":"
            + "[{\"id\":0,\"content\":\"[UNK]\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
            + "\"normalized\":false,\"special\":true}],"
            + "\"normalizer\":{\"type\":\"Lowercase\"},\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
            + "\"post_processor\":null,\"decoder\":null,\"model\":{\"type\":\"WordLevel\","
            + "\"vocab\":{\"[UNK]\":0,\"the\":1,\"cat\":2,\"sat\":3,\"on\":4,\"mat\":5,\".\":6},\"unk_token\":\"[UNK]\"}}";

    private static Vocabulary build(TokenizerSpec spec, String text, int k) {
        Map<String, Long> counts = new HashMap<>();
        for (String p : Segmenters.get(spec).segment(text)) {
            counts.merge(p, 1L, Long::sum);
        }
        return Vocabulary.fromCounts(spec, counts, k);
    }

    @Test
    void layoutAndExactRoundTripWithGpt2() {
        TokenizerSpec spec = TokenizerSpec.gpt2();
        Vocabulary v = build(spec, TEXTS, 5);
        assertEquals(256, v.eosId());
        assertEquals(257, v.padId());
        assertEquals(258 + v.keptPieces(), v.size());
        assertTrue(v.keptPieces() <= 5);
        for (String s : List.of(TEXTS, "", "x", "completely unseen words: ξενοδοχείο", "🙂")) {
            int[] ids = v.encode(s);
            assertEquals(s, v.decode(ids));
            for (int id : ids) {
                assertTrue(id < v.size() && id != v.eosId() && id != v.padId());
            }
        }
        // " cat" is frequent in TEXTS: kept as one id; a rare word is spelled in bytes.
        int[] cat = v.encode(" cat");
        assertEquals(1, cat.length);
        assertTrue(cat[0] >= Vocabulary.FIRST_PIECE_ID);
        assertArrayEquals(new int[]{'z', 'q'}, v.encode("zq"), "zq is not among the kept pieces");
    }

    @Test
    void emojiSplitAcrossBpeTokensStillRoundTrips() {
        // GPT-2 splits some emoji into tokens that end inside a UTF-8 sequence.
        Segmenter seg = Segmenters.get(TokenizerSpec.gpt2());
        List<String> pieces = seg.segment("🙂");
        StringBuilder joined = new StringBuilder();
        pieces.forEach(joined::append);
        assertArrayEquals("🙂".getBytes(StandardCharsets.UTF_8), joined.toString().getBytes(StandardCharsets.ISO_8859_1));
    }

    @Test
    void jsonRoundTripKeepsIdsAndChecksTokenizer() {
        Vocabulary v = build(TokenizerSpec.gpt2(), TEXTS, 10);
        Vocabulary back = Vocabulary.fromJson(v.toJson());
        assertEquals(v.size(), back.size());
        assertArrayEquals(v.encode(TEXTS), back.encode(TEXTS));
        assertThrows(IllegalArgumentException.class,
                () -> Vocabulary.fromJson(v.toJson(), TokenizerSpec.jtokkit("cl100k_base")));
    }

    @Test
    void zeroKeptPiecesMeansPureBytes() {
        Vocabulary v = build(TokenizerSpec.gpt2(), TEXTS, 0);
        assertEquals(258, v.size());
        byte[] utf8 = TEXTS.getBytes(StandardCharsets.UTF_8);
        int[] expected = new int[utf8.length];
        for (int i = 0; i < utf8.length; i++) {
            expected[i] = utf8[i] & 0xff;
        }
        assertArrayEquals(expected, v.encode(TEXTS));
        assertEquals(TEXTS, v.decode(v.encode(TEXTS)));
    }

    @Test
    void huggingFaceTokenizerJsonIsLosslessDespiteNormalizer() {
        TokenizerSpec spec = TokenizerSpec.huggingFace("tiny/tokenizer.json", TINY_TOKENIZER.getBytes(StandardCharsets.UTF_8));
        assertTrue(spec.identity().startsWith("huggingface:sha256:"));
        Segmenter seg = Segmenters.get(spec);
        assertEquals(List.of("The", " ", "cat", " ", "sat", "."), seg.segment("The cat sat."));
        Vocabulary v = build(spec, TEXTS, 4);
        for (String s : List.of(TEXTS, "THE CAT", "  leading and trailing  ", "🙂x🙂")) {
            assertEquals(s, v.decode(v.encode(s)));
        }
        assertEquals(1, v.encode("The").length);
    }

    @Test
    void idsOutsideTheVocabularyAreRefused() {
        Vocabulary v = build(TokenizerSpec.gpt2(), TEXTS, 3);
        assertThrows(IllegalArgumentException.class, () -> v.decode(new int[]{v.size()}));
        assertEquals("a", v.decode(new int[]{'a', v.eosId(), v.padId()}));
    }
}
