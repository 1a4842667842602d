package io.sgdpo.nn;

import static io.sgdpo.config.ConfigurationException.require;

import com.typesafe.config.Config;
import java.io.Serializable;

/**
 * Sizes of the GPT-style decoder (config block {@code model}).
 *
 * @param vocabSize  number of token ids (the prep vocabulary's size)
 * @param dModel     model width d
 * @param layers     number of transformer blocks
 * @param heads      attention heads per block (d must be divisible by it)
 * @param maxLength  longest sequence length T (prompt + response + EOS - 1); a minibatch takes its own longest row
 * @param dropout    dropout probability on the final hidden states, before the output projection
 * @param seed       seed of the parameter initialisation
 */
public record DecoderConfig(int vocabSize, int dModel, int layers, int heads, int maxLength, double dropout, long seed)
        implements Serializable {

    public DecoderConfig {
        require(vocabSize >= 2, "model.vocabSize must be >= 2, got " + vocabSize);
        require(dModel >= 1, "model.dModel must be >= 1, got " + dModel);
        require(layers >= 1, "model.layers must be >= 1, got " + layers);
        require(heads >= 1 && dModel % heads == 0,
                "model.heads must be >= 1 and divide model.dModel (" + dModel + "), got " + heads);
        require(maxLength >= 2, "model.maxLength must be >= 2, got " + maxLength);
        require(dropout >= 0 && dropout < 1, "model.dropout must lie in [0, 1), got " + dropout);
    }

    /** Reads the {@code model} block; the vocabulary size comes from the data, not from config. */
    public static DecoderConfig fromConfig(Config model, int vocabSize) {
        return new DecoderConfig(vocabSize, model.getInt("dModel"), model.getInt("layers"), model.getInt("heads"),
                model.getInt("maxLength"), model.getDouble("dropout"), model.getLong("seed"));
    }

    /** Matrix-multiply FLOPs of one forward pass per token (2 per multiply-add), for MFU figures. */
    public long forwardFlopsPerToken() {
        long perBlock = 2L * (4L * dModel * dModel + 2L * dModel * 4L * dModel) + 2L * 2L * maxLength * dModel;
        return layers * perBlock + 2L * dModel * vocabSize;
    }
}
