package io.sgdpo.prep.tokenize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.Serializable;

/**
 * Text to token ids and back for the vocabulary a model trains on: what prep encodes pairs with,
 * and what training, evaluation and generation read back from a prep output's {@code vocab.json}.
 *
 * <p>Two kinds exist: the project's {@link Vocabulary} (pieces of a base tokenizer trimmed to the
 * most frequent ones, for models trained from scratch) and a {@link ModelTokenizer} (a Hugging
 * Face model's own tokenizer, ids exactly as the model was trained with).
 */
public interface TokenCodec extends Serializable {

    /** Number of ids the model's vocabulary must cover. */
    int size();

    /** The id appended to every complete response. */
    int eosId();

    /** The id that pads rows; never attended to by a real position and never scored. */
    int padId();

    /** The id every encoded prompt starts with, or -1 when the tokenizer adds none. */
    int bosId();

    /** The ids of a prompt, with whatever the tokenizer adds before it (BOS). */
    int[] encodePrompt(String prompt);

    /**
     * The ids of a response that follows {@code prompt}, without EOS: the tokens the response
     * contributes when the tokenizer reads prompt + response as one text.
     */
    int[] encodeResponse(String prompt, String response);

    /** The text that {@code ids} spell; EOS, PAD and other special tokens are skipped. */
    String decode(int[] ids);

    /** The tokenizer's identity, recorded in manifests and compared before a model meets the data. */
    String identity();

    /** The {@code vocab.json} written beside the pair shards, read back by {@link #fromJson}. */
    String toJson();

    /** Reads a prep output's {@code vocab.json}, whichever kind wrote it. */
    static TokenCodec fromJson(String json) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("vocab.json is not valid JSON: " + e.getMessage(), e);
        }
        if (ModelTokenizer.TYPE.equals(root.path("tokenizer").path("type").asText())) {
            return ModelTokenizer.fromJson(root);
        }
        return Vocabulary.fromJson(json);
    }
}
