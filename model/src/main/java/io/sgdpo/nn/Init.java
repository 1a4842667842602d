package io.sgdpo.nn;

import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** GPT-2's initialisation: weights N(0, 0.02), biases 0, layer-norm gains 1. */
final class Init {

    static final double STD = 0.02;

    private Init() {
    }

    /** Parameters named {@code g*} (gains) get 1, {@code b*} (biases) 0, the rest N(0, 0.02). */
    static void gpt2(Map<String, INDArray> params) {
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray p = e.getValue();
            char kind = e.getKey().charAt(0);
            if (kind == 'g') {
                p.assign(1.0);
            } else if (kind == 'b') {
                p.assign(0.0);
            } else {
                p.assign(Nd4j.randn(p.dataType(), p.shape()).muli(STD));
            }
        }
    }
}
