package io.sgdpo.nn;

import java.io.Serializable;
import org.nd4j.linalg.learning.config.IUpdater;

/**
 * How a decoder is optimised.
 *
 * @param updater        DL4J updater (Adam, with its learning rate)
 * @param clipL2PerLayer clip each layer's gradient to this L2 norm (DL4J's ClipL2PerLayer: DL4J has
 *                       no global-norm clipping); 0 disables clipping
 * @param weightDecay    decoupled weight decay coefficient (DL4J's WeightDecay, which with Adam is
 *                       AdamW); 0 disables it
 */
public record Optimization(IUpdater updater, double clipL2PerLayer, double weightDecay) implements Serializable {

    public Optimization {
        if (clipL2PerLayer < 0) {
            throw new IllegalArgumentException("train.gradientClip must be >= 0, got " + clipL2PerLayer);
        }
        if (weightDecay < 0) {
            throw new IllegalArgumentException("train.weightDecay must be >= 0, got " + weightDecay);
        }
    }
}
