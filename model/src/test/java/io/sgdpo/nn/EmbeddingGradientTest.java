package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Pins the ND4J 1.0.0-M2.1 bug that makes {@link LanguageModelLayer} look tokens up with a one-hot
 * product instead of a gather: the gradient of {@code gather(table, ids)} with respect to the table
 * does not add up the rows of repeated ids. When this test fails, the gather's backward pass is
 * fixed and the lookup can become a gather (cheaper for large vocabularies).
 */
class EmbeddingGradientTest {

    @Test
    void gatherBackwardDropsTheGradientsOfRepeatedIds() {
        SameDiff sd = SameDiff.create();
        INDArray table = Nd4j.rand(DataType.DOUBLE, 5, 3);
        int[] ids = {1, 1, 3, 1, 0, 3};
        INDArray weights = Nd4j.rand(DataType.DOUBLE, ids.length, 3);
        SDVariable t = sd.var("table", table);
        sd.gather(t, sd.constant(Nd4j.createFromArray(ids)), 0).mul(sd.constant(weights)).sum().markAsLoss();
        INDArray gradient = sd.calculateGradients(Map.of(), "table").get("table");

        INDArray expected = Nd4j.zeros(DataType.DOUBLE, 5, 3); // row v: the sum of the weights of the ids equal to v
        for (int j = 0; j < ids.length; j++) {
            expected.getRow(ids[j]).addi(weights.getRow(j));
        }
        assertFalse(expected.equalsWithEps(gradient, 1e-9), "gather's backward pass is right now: expected " + expected
                + ", got " + gradient);
    }
}
