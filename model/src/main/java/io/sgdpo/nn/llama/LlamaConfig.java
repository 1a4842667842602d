package io.sgdpo.nn.llama;

import static io.sgdpo.config.ConfigurationException.require;

import java.io.Serializable;

/**
 * Sizes and constants of a Llama-family model, in transformers' terms (its {@code config.json}
 * field in brackets).
 *
 * @param vocabSize        number of token ids ({@code vocab_size})
 * @param hiddenSize       model width d ({@code hidden_size})
 * @param intermediateSize width of the SwiGLU MLP ({@code intermediate_size})
 * @param layers           number of blocks ({@code num_hidden_layers})
 * @param heads            query heads ({@code num_attention_heads})
 * @param kvHeads          key/value heads, dividing heads ({@code num_key_value_heads})
 * @param headDim          size of each head ({@code head_dim}, else hidden / heads); even, for RoPE
 * @param rmsNormEps       epsilon of every RMSNorm ({@code rms_norm_eps})
 * @param ropeTheta        base of the rotary frequencies ({@code rope_theta})
 * @param tiedEmbeddings   whether the output head is the token embedding ({@code tie_word_embeddings})
 * @param qkvBias          whether q/k/v projections have biases (Qwen2; o_proj never has one)
 * @param maxPositions     longest sequence the model was trained for ({@code max_position_embeddings})
 */
public record LlamaConfig(int vocabSize, int hiddenSize, int intermediateSize, int layers, int heads, int kvHeads,
                          int headDim, double rmsNormEps, double ropeTheta, boolean tiedEmbeddings, boolean qkvBias,
                          int maxPositions) implements Serializable {

    public LlamaConfig {
        require(vocabSize >= 2, "vocabulary size must be >= 2, got " + vocabSize);
        require(hiddenSize >= 1 && intermediateSize >= 1 && layers >= 1,
                "hidden size, MLP width and layers must be >= 1, got " + hiddenSize + ", " + intermediateSize + ", "
                        + layers);
        require(heads >= 1 && kvHeads >= 1 && heads % kvHeads == 0,
                "attention heads (" + heads + ") must be a positive multiple of key/value heads (" + kvHeads + ")");
        require(headDim >= 2 && headDim % 2 == 0, "head size must be even and >= 2 for rotary positions, got "
                + headDim);
        require(rmsNormEps > 0 && ropeTheta > 0, "RMSNorm epsilon and RoPE theta must be > 0, got " + rmsNormEps
                + ", " + ropeTheta);
        require(maxPositions >= 1, "max positions must be >= 1, got " + maxPositions);
    }

    /** Width of the concatenated query heads. */
    public int queryWidth() {
        return heads * headDim;
    }

    /** Width of the concatenated key (or value) heads. */
    public int kvWidth() {
        return kvHeads * headDim;
    }
}
