package io.sgdpo.nn;

import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * A loss of the {@link VocabularyHead} that reads the logits of the response tokens' label rows
 * only ({@link MinibatchView#responseRows}) and takes the logits of those rows alone as it takes
 * every row's. In training the head then computes the logits, their gradient and the gradient's
 * products for those rows alone: the prompt and padding positions contribute nothing to such a
 * loss, and at a vocabulary of thousands they are most of a step's work in the head.
 */
public interface ResponseTokenLoss extends ILossFunction {
}
