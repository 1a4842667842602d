package io.sgdpo.prep.tokenize;

import io.sgdpo.config.ConfigurationException;

/**
 * The check every stage makes before a model meets prepped data: the ids must mean the same tokens
 * to both. A model that came from a Hugging Face folder carries that folder's tokenizer.json, so
 * the data must have been prepped with exactly that tokenizer ({@code --tokenizer-from}); a model
 * trained here records the tokenizer identity of its data; in every case the model's vocabulary
 * must cover the data's ids.
 */
public final class TokenizerMatch {

    /** The key of a checkpoint's training state that records the tokenizer identity of its data. */
    public static final String STATE_KEY = "tokenizer";

    private TokenizerMatch() {
    }

    /**
     * @param data               the data's vocabulary ({@code vocab.json})
     * @param dataDir            the data folder, for the message
     * @param modelVocab         number of ids the model scores
     * @param modelTokenizerJson the tokenizer.json the model came with, or null
     * @param recordedTokenizer  the tokenizer identity the model's training state recorded, or null
     * @param model              the model's path, for the message
     * @throws ConfigurationException naming both tokenizers when they differ
     */
    public static void require(TokenCodec data, String dataDir, int modelVocab, byte[] modelTokenizerJson,
                               String recordedTokenizer, String model) {
        String modelIdentity = modelTokenizerJson != null ? "sha256:" + TokenizerSpec.sha256(modelTokenizerJson)
                : recordedTokenizer;
        if (modelIdentity != null && !modelIdentity.equals(data.identity())) {
            String how = modelTokenizerJson != null
                    ? "; prep the data with --tokenizer-from " + model + " (or the Hugging Face folder it came from)"
                    : "; use data prepped with the tokenizer this model was trained on";
            throw new ConfigurationException("the data " + dataDir + " was tokenized with " + data.identity()
                    + ", but the model " + model + " uses the tokenizer " + modelIdentity + how);
        }
        if (data.size() != modelVocab) {
            throw new ConfigurationException("the model " + model + " scores " + modelVocab + " token ids, but the data "
                    + dataDir + " has a vocabulary of " + data.size() + " ids");
        }
    }
}
