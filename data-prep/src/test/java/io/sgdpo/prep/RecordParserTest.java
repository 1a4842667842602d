package io.sgdpo.prep;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecordParserTest {

    private final RecordParser parser = RecordParser.defaults();

    private ParsedRecord pairs(String line) {
        return parser.parse(line.getBytes(StandardCharsets.UTF_8), InputFormat.PAIRS, "f.jsonl", 0, 7);
    }

    private ParsedRecord hh(String line) {
        return parser.parse(line.getBytes(StandardCharsets.UTF_8), InputFormat.HH, "f.jsonl", 0, 7);
    }

    @Test
    void stringPair() {
        ParsedRecord r = pairs("{\"prompt\":\"Q?\",\"chosen\":\"yes\",\"rejected\":\"no\",\"extra\":1}");
        assertTrue(r.isPair());
        assertEquals("Q?", r.prompt);
        assertEquals("yes", r.chosen);
        assertEquals("no", r.rejected);
        assertEquals(32, r.pairId.length());
        assertEquals(7, r.line);
    }

    @Test
    void chatMessageResponsesUseTheLastAssistantMessage() {
        ParsedRecord r = pairs("{\"prompt\":\"Hi\",\"chosen\":[{\"role\":\"user\",\"content\":\"Hi\"},"
                + "{\"role\":\"assistant\",\"content\":\"Hello!\"}],"
                + "\"rejected\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\",\"content\":\"Go away\"}]}");
        assertTrue(r.isPair(), String.valueOf(r.detail));
        assertEquals("Hello!", r.chosen);
        assertEquals("Go away", r.rejected);
        ParsedRecord chatPrompt = pairs("{\"prompt\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"chosen\":\"a\",\"rejected\":\"b\"}");
        assertEquals("\n\nHuman: Hi\n\nAssistant:", chatPrompt.prompt);
        ParsedRecord userLast = pairs("{\"prompt\":\"p\",\"chosen\":[{\"role\":\"user\",\"content\":\"x\"}],\"rejected\":\"b\"}");
        assertEquals(RejectReason.NON_STRING_FIELD, userLast.reason);
    }

    @Test
    void hhSplitsAtTheLastAssistantTurn() {
        String prefix = "\\n\\nHuman: hi\\n\\nAssistant: hello\\n\\nHuman: how are you?\\n\\nAssistant:";
        ParsedRecord r = hh("{\"chosen\":\"" + prefix + " Fine, thanks.\",\"rejected\":\"" + prefix + " Go away.\"}");
        assertTrue(r.isPair(), String.valueOf(r.detail));
        assertEquals("\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how are you?\n\nAssistant:", r.prompt);
        assertEquals(" Fine, thanks.", r.chosen);
        assertEquals(" Go away.", r.rejected);
    }

    @Test
    void everyDefectHasItsReason() {
        assertEquals(RejectReason.MALFORMED_JSON, pairs("{\"prompt\":\"p\",\"chosen\":\"a\"").reason);
        assertEquals(RejectReason.MALFORMED_JSON, pairs("{\"prompt\":\"p\",\"chosen\":\"a\",\"rejected\":\"b\"} x").reason);
        assertEquals(RejectReason.MALFORMED_JSON, pairs("[1,2]").reason);
        assertEquals(RejectReason.MALFORMED_JSON, pairs("   ").reason);
        assertEquals(RejectReason.MALFORMED_JSON,
                pairs("{\"prompt\":\"p\",\"chosen\":\"a\",\"chosen\":\"c\",\"rejected\":\"b\"}").reason);
        assertEquals(RejectReason.MISSING_FIELD, pairs("{\"prompt\":\"p\",\"chosen\":\"a\"}").reason);
        assertEquals(RejectReason.MISSING_FIELD, pairs("{\"prompt\":null,\"chosen\":\"a\",\"rejected\":\"b\"}").reason);
        assertEquals(RejectReason.EMPTY_FIELD, pairs("{\"prompt\":\" \\n\",\"chosen\":\"a\",\"rejected\":\"b\"}").reason);
        assertEquals(RejectReason.NON_STRING_FIELD, pairs("{\"prompt\":\"p\",\"chosen\":42,\"rejected\":\"b\"}").reason);
        assertEquals(RejectReason.NON_STRING_FIELD, pairs("{\"prompt\":\"p\",\"chosen\":{\"t\":1},\"rejected\":\"b\"}").reason);
        assertEquals(RejectReason.IDENTICAL_RESPONSES, pairs("{\"prompt\":\"p\",\"chosen\":\"same\",\"rejected\":\" same\\r\\n\"}").reason);
        assertEquals(RejectReason.INVALID_UTF8, pairs("{\"prompt\":\"p\\ud800\",\"chosen\":\"a\",\"rejected\":\"b\"}").reason);
        byte[] bad = "{\"prompt\":\"p?\",\"chosen\":\"a\",\"rejected\":\"b\"}".getBytes(StandardCharsets.UTF_8);
        bad[12] = (byte) 0xff;
        ParsedRecord invalid = parser.parse(bad, InputFormat.PAIRS, "f", 0, 3);
        assertEquals(RejectReason.INVALID_UTF8, invalid.reason);
        assertEquals(3, invalid.line);
        assertTrue(invalid.raw.contains("prompt"));

        assertEquals(RejectReason.HH_PROMPT_MISMATCH, hh("{\"chosen\":\"\\n\\nHuman: a\\n\\nAssistant: x\","
                + "\"rejected\":\"\\n\\nHuman: b\\n\\nAssistant: y\"}").reason);
        assertEquals(RejectReason.HH_NO_ASSISTANT_TURN, hh("{\"chosen\":\"\\n\\nHuman: a\",\"rejected\":\"\\n\\nHuman: a\\n\\nAssistant: y\"}").reason);
        assertEquals(RejectReason.EMPTY_FIELD, hh("{\"chosen\":\"\\n\\nHuman: a\\n\\nAssistant:  \","
                + "\"rejected\":\"\\n\\nHuman: a\\n\\nAssistant: y\"}").reason);
    }

    @Test
    void rejectsKeepTheRawRecordAndADetail() {
        ParsedRecord r = pairs("{\"prompt\":\"p\",\"chosen\":\"a\"}");
        assertFalse(r.isPair());
        assertEquals("{\"prompt\":\"p\",\"chosen\":\"a\"}", r.raw);
        assertTrue(r.detail.contains("rejected"), r.detail);
        assertNull(r.pairId);
    }

    @Test
    void configuredFieldNames() {
        RecordParser custom = new RecordParser("question", "good", "bad");
        ParsedRecord r = custom.parse("{\"question\":\"q\",\"good\":\"g\",\"bad\":\"b\"}".getBytes(StandardCharsets.UTF_8),
                InputFormat.PAIRS, "f", 0, 1);
        assertTrue(r.isPair());
        assertEquals(InputFormat.PAIRS, custom.detect("{\"question\":\"q\"}"));
        assertEquals(InputFormat.HH, custom.detect("{\"good\":\"\\n\\nHuman: a\\n\\nAssistant: b\"}"));
        assertNull(custom.detect("not json"));
    }

    @Test
    void pairIdNormalizesAndSplitIsDeterministic() {
        assertEquals(PairId.of("p", "a", "b"), PairId.of(" p\r\n", "a", "b "));
        assertNotEquals(PairId.of("p", "a", "b"), PairId.of("p", "b", "a"));
        int eval = 0;
        for (int i = 0; i < 10_000; i++) {
            String id = PairId.of("p" + i, "a", "b");
            assertEquals(PairId.split(id, 0.1), PairId.split(id, 0.1));
            eval += PairSchema.EVAL.equals(PairId.split(id, 0.1)) ? 1 : 0;
        }
        assertTrue(eval > 900 && eval < 1100, "eval count " + eval);
        assertEquals(PairSchema.TRAIN, PairId.split(PairId.of("p", "a", "b"), 0.0));
    }
}
