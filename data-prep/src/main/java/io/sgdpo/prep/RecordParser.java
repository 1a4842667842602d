package io.sgdpo.prep;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import io.sgdpo.prep.tokenize.ChatTemplate;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Turns one raw input line into a {@link ParsedRecord}: a validated pair, or a rejection with its
 * reason. Pure Java and stateless apart from configuration, so it is unit-tested without Spark and
 * reused by the single-threaded benchmark baseline.
 */
public final class RecordParser implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The HH-RLHF marker of an assistant turn; the prompt ends with the last one. */
    public static final String HH_ASSISTANT = "\n\nAssistant:";

    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final String promptField;
    private final String chosenField;
    private final String rejectedField;
    private final ChatTemplate chatTemplate;

    public RecordParser(String promptField, String chosenField, String rejectedField) {
        this(promptField, chosenField, rejectedField, null);
    }

    /**
     * @param chatTemplate the model's chat template, which renders message-list prompts; null renders
     *                     them as an HH-style transcript
     */
    public RecordParser(String promptField, String chosenField, String rejectedField, ChatTemplate chatTemplate) {
        this.promptField = promptField;
        this.chosenField = chosenField;
        this.rejectedField = rejectedField;
        this.chatTemplate = chatTemplate;
    }

    /** This parser with message-list prompts rendered by {@code template} (null: transcript form). */
    public RecordParser withChatTemplate(ChatTemplate template) {
        return new RecordParser(promptField, chosenField, rejectedField, template);
    }

    /** Parser for the default field names prompt / chosen / rejected. */
    public static RecordParser defaults() {
        return new RecordParser("prompt", "chosen", "rejected");
    }

    /**
     * Parses the bytes of one line.
     *
     * @param format PAIRS or HH (AUTO must be resolved per file before)
     */
    public ParsedRecord parse(byte[] line, InputFormat format, String sourceFile, int fileIndex, long lineNo) {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(line)).toString();
        } catch (CharacterCodingException e) {
            String lossy = new String(line, StandardCharsets.UTF_8);
            return ParsedRecord.reject(sourceFile, fileIndex, lineNo, lossy, RejectReason.INVALID_UTF8,
                    "line is not valid UTF-8");
        }
        return parse(text, format, sourceFile, fileIndex, lineNo);
    }

    /** Parses one line of already-decoded text (e.g. a Parquet row rendered as JSON). */
    public ParsedRecord parse(String text, InputFormat format, String sourceFile, int fileIndex, long lineNo) {
        String raw = text;
        if (lineNo == 1 && text.startsWith("\uFEFF")) {
            text = text.substring(1);
        }
        Fail f = new Fail(sourceFile, fileIndex, lineNo, raw);
        if (text.isBlank()) {
            return f.of(RejectReason.MALFORMED_JSON, "blank line");
        }
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (JsonProcessingException e) {
            return f.of(RejectReason.MALFORMED_JSON, e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            return f.of(RejectReason.MALFORMED_JSON, "not a JSON object");
        }
        try {
            if (format == InputFormat.HH) {
                return parseHh(root, f);
            }
            return parsePairs(root, f);
        } catch (Rejection r) {
            return f.of(r.reason, r.getMessage());
        }
    }

    /**
     * Guesses the format of a file from one of its lines: a record with the prompt field is PAIRS,
     * one whose chosen transcript holds an Assistant turn is HH, anything else PAIRS (whose
     * validation then names what is missing). Returns null when the line is not a JSON object.
     */
    public InputFormat detect(String line) {
        try {
            JsonNode root = JSON.readTree(line.startsWith("\uFEFF") ? line.substring(1) : line);
            if (root == null || !root.isObject()) {
                return null;
            }
            if (root.has(promptField)) {
                return InputFormat.PAIRS;
            }
            JsonNode chosen = root.get(chosenField);
            return chosen != null && chosen.isTextual() && chosen.textValue().contains(HH_ASSISTANT)
                    ? InputFormat.HH : InputFormat.PAIRS;
        } catch (JsonProcessingException e) {
            return null;
        }
    }

    /** Format of a Parquet file from its column names. */
    public InputFormat detectColumns(java.util.Collection<String> columns) {
        return columns.contains(promptField) ? InputFormat.PAIRS : InputFormat.HH;
    }

    private ParsedRecord parsePairs(JsonNode root, Fail f) {
        String prompt = text(root, promptField, false);
        String chosen = text(root, chosenField, true);
        String rejected = text(root, rejectedField, true);
        return finish(f, prompt, chosen, rejected);
    }

    private ParsedRecord parseHh(JsonNode root, Fail f) {
        String chosen = text(root, chosenField, false);
        String rejected = text(root, rejectedField, false);
        int ci = chosen.lastIndexOf(HH_ASSISTANT);
        int ri = rejected.lastIndexOf(HH_ASSISTANT);
        if (ci < 0 || ri < 0) {
            return f.of(RejectReason.HH_NO_ASSISTANT_TURN, (ci < 0 ? chosenField : rejectedField)
                    + " has no \"\\n\\nAssistant:\" turn");
        }
        int cut = HH_ASSISTANT.length();
        String prompt = chosen.substring(0, ci + cut);
        if (!prompt.equals(rejected.substring(0, ri + cut))) {
            return f.of(RejectReason.HH_PROMPT_MISMATCH,
                    "transcripts differ before the last Assistant turn");
        }
        String c = chosen.substring(ci + cut);
        String r = rejected.substring(ri + cut);
        if (c.isBlank() || r.isBlank()) {
            return f.of(RejectReason.EMPTY_FIELD, (c.isBlank() ? chosenField : rejectedField)
                    + ": last Assistant reply is empty");
        }
        return finish(f, prompt, c, r);
    }

    private static ParsedRecord finish(Fail f, String prompt, String chosen, String rejected) {
        if (PairId.normalize(chosen).equals(PairId.normalize(rejected))) {
            return f.of(RejectReason.IDENTICAL_RESPONSES, "chosen and rejected are the same text");
        }
        return ParsedRecord.pair(f.source, f.fileIndex, f.line, f.raw, prompt, chosen, rejected);
    }

    /**
     * The text of a field: a string, or a chat message list. For a response, a message list stands
     * for its last message's content (UltraFeedback puts the prompt turn first); a prompt list is
     * rendered by the model's chat template with the generation prompt, or without one as an
     * HH-style transcript ending with an open Assistant turn.
     */
    private String text(JsonNode root, String field, boolean isResponse) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull() || v.isMissingNode()) {
            throw new Rejection(RejectReason.MISSING_FIELD, field + " is missing");
        }
        String s;
        if (v.isTextual()) {
            s = v.textValue();
        } else if (v.isArray()) {
            s = fromMessages(field, v, isResponse);
        } else {
            throw new Rejection(RejectReason.NON_STRING_FIELD, field + " is a JSON " + v.getNodeType().name().toLowerCase()
                    + ", not a string or message list");
        }
        if (s.isBlank()) {
            throw new Rejection(RejectReason.EMPTY_FIELD, field + " is empty");
        }
        if (hasLoneSurrogate(s)) {
            throw new Rejection(RejectReason.INVALID_UTF8, field + " holds an unpaired surrogate");
        }
        return s;
    }

    private String fromMessages(String field, JsonNode list, boolean isResponse) {
        if (list.isEmpty()) {
            throw new Rejection(RejectReason.EMPTY_FIELD, field + " is an empty message list");
        }
        for (JsonNode m : list) {
            if (!m.isObject() || !m.path("content").isTextual() || !m.path("role").isTextual()) {
                throw new Rejection(RejectReason.NON_STRING_FIELD,
                        field + ": every message needs string role and content");
            }
        }
        if (isResponse) {
            JsonNode last = list.get(list.size() - 1);
            if (!"assistant".equals(last.get("role").textValue())) {
                throw new Rejection(RejectReason.NON_STRING_FIELD,
                        field + ": last message has role " + last.get("role").textValue() + ", not assistant");
            }
            return last.get("content").textValue();
        }
        if (chatTemplate != null) {
            List<ChatTemplate.Message> messages = new ArrayList<>(list.size());
            for (JsonNode m : list) {
                messages.add(new ChatTemplate.Message(m.get("role").textValue(), m.get("content").textValue()));
            }
            try {
                return chatTemplate.render(messages, true);
            } catch (IllegalArgumentException e) {
                throw new Rejection(RejectReason.CHAT_TEMPLATE, field + ": " + e.getMessage());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (JsonNode m : list) {
            String role = m.get("role").textValue();
            String label = "assistant".equals(role) ? "Assistant" : "system".equals(role) ? "System" : "Human";
            sb.append("\n\n").append(label).append(": ").append(m.get("content").textValue());
        }
        return sb.append(HH_ASSISTANT).toString();
    }

    private static boolean hasLoneSurrogate(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                    i++;
                } else {
                    return true;
                }
            } else if (Character.isLowSurrogate(c)) {
                return true;
            }
        }
        return false;
    }

    /** Early exit from field validation with a reason. */
    private static final class Rejection extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final RejectReason reason;

        Rejection(RejectReason reason, String message) {
            super(message, null, false, false);
            this.reason = reason;
        }
    }

    private record Fail(String source, int fileIndex, long line, String raw) {
        ParsedRecord of(RejectReason reason, String detail) {
            return ParsedRecord.reject(source, fileIndex, line, raw, reason, detail);
        }
    }
}
