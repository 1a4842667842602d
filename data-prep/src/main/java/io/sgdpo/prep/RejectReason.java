package io.sgdpo.prep;

/**
 * Why a record was rejected. The ids are stable: they appear in DIR/rejects/ and in the manifest,
 * and scheduled pipelines may alert on them.
 */
public enum RejectReason {
    /** Not one JSON object per line (includes blank lines and trailing garbage). */
    MALFORMED_JSON("malformed_json"),
    /** A required field is absent or null. */
    MISSING_FIELD("missing_field"),
    /** A required field is an empty or whitespace-only string (or message content). */
    EMPTY_FIELD("empty_field"),
    /** A required field is neither a string nor a chat message list [{role, content}]. */
    NON_STRING_FIELD("non_string_field"),
    /** Chosen and rejected are the same text (after normalization, or after truncation). */
    IDENTICAL_RESPONSES("identical_responses"),
    /** HH transcripts whose turns before the last Assistant reply differ. */
    HH_PROMPT_MISMATCH("hh_prompt_mismatch"),
    /** An HH transcript without any "\n\nAssistant:" turn to split at. */
    HH_NO_ASSISTANT_TURN("hh_no_assistant_turn"),
    /** The line is not valid UTF-8, or a string holds an unpaired surrogate escape. */
    INVALID_UTF8("invalid_utf8"),
    /** The prompt or a response has no token left once the length limits are applied. */
    EMPTY_AFTER_TRUNCATION("empty_after_truncation"),
    /** Same pair id (same normalized prompt, chosen, rejected) as an earlier record. */
    DUPLICATE("duplicate"),
    /** The model's chat template refused the prompt's message list (its raise_exception, e.g. a role order it does not allow). */
    CHAT_TEMPLATE("chat_template");

    private final String id;

    RejectReason(String id) {
        this.id = id;
    }

    /** The stable lowercase identifier. */
    public String id() {
        return id;
    }
}
