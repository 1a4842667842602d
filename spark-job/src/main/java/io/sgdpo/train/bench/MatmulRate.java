package io.sgdpo.train.bench;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** ND4J's float32 matrix-multiply rate on this machine: the bound model-FLOP utilisation is measured against. */
public final class MatmulRate {

    private MatmulRate() {
    }

    /** Median FLOP/s of {@code repeats} products of two n x n matrices (2 n^3 FLOPs each). */
    public static double flopsPerSecond(int n, int repeats) {
        INDArray a = Nd4j.rand(DataType.FLOAT, n, n);
        INDArray b = Nd4j.rand(DataType.FLOAT, n, n);
        INDArray c = Nd4j.create(DataType.FLOAT, n, n);
        a.mmuli(b, c); // warm-up
        double[] rates = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long start = System.nanoTime();
            a.mmuli(b, c);
            rates[i] = 2.0 * n * n * n / ((System.nanoTime() - start) / 1e9);
        }
        Arrays.sort(rates);
        return rates[repeats / 2];
    }
}
