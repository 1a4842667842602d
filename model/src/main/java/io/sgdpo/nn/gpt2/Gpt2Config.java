package io.sgdpo.nn.gpt2;

import java.io.Serializable;

/**
 * Sizes of a GPT-2 model in transformers' terms (its {@code config.json} field in brackets).
 *
 * @param vocabSize    number of token ids ({@code vocab_size})
 * @param width        model width d ({@code n_embd})
 * @param layers       number of blocks ({@code n_layer})
 * @param heads        attention heads, dividing d ({@code n_head})
 * @param inner        width of the MLP ({@code n_inner}, 4d when null)
 * @param positions    number of learned positions ({@code n_positions})
 * @param layerNormEps epsilon of every LayerNorm ({@code layer_norm_epsilon})
 */
public record Gpt2Config(int vocabSize, int width, int layers, int heads, int inner, int positions,
                         double layerNormEps) implements Serializable {

    public Gpt2Config {
        if (vocabSize < 2 || width < 1 || layers < 1 || inner < 1 || positions < 1) {
            throw new IllegalArgumentException("GPT-2 sizes must be positive (vocabulary >= 2), got vocabulary "
                    + vocabSize + ", width " + width + ", layers " + layers + ", inner " + inner + ", positions "
                    + positions);
        }
        if (heads < 1 || width % heads != 0) {
            throw new IllegalArgumentException("GPT-2 heads (" + heads + ") must divide the width (" + width + ")");
        }
        if (!(layerNormEps > 0)) {
            throw new IllegalArgumentException("layer norm epsilon must be > 0, got " + layerNormEps);
        }
    }

    /** Size of each attention head. */
    public int headSize() {
        return width / heads;
    }
}
