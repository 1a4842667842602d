package io.sgdpo.nn;

import java.io.Serializable;

/**
 * The sizes every stage needs to know of a model, whatever its architecture.
 *
 * @param architecture the architecture
 * @param vocabSize    number of token ids V
 * @param maxLength    sequence length T the graph is built for ({@code model.maxLength})
 * @param dModel       model width d
 * @param layers       number of transformer blocks
 */
public record ModelShape(Architecture architecture, int vocabSize, int maxLength, int dModel, int layers)
        implements Serializable {
}
