package io.sgdpo.bench.prep;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;

/**
 * ND4J's float32 matrix-multiply rate on this machine, measured in the benchmark's own run: the
 * bound that model-FLOP utilisation figures are divided by.
 *
 * <p>It times libnd4j's matmul op writing into a preallocated row-major result, the path every
 * SameDiff {@code mmul} of the models takes (straight to OpenBLAS's sgemm). Not
 * {@code INDArray.mmuli}: in ND4J 1.0.0-M2.1 that allocates a zeroed column-major temporary for
 * every product, multiplies into it and copies it back element by element into the row-major
 * result, which measured at less than half the op's rate for 1024^3 on the 2-core development
 * machine (memset, page faults and the strided copy took more time than the kernel).
 */
public final class MatmulRate {

    private MatmulRate() {
    }

    /** Median FLOP/s of {@code timed} products {@code [m,k] x [k,n]} (2 m k n FLOPs each), after 3 warm-ups. */
    public static double flopsPerSecond(int m, int k, int n, int timed) {
        INDArray a = Nd4j.rand(DataType.FLOAT, m, k);
        INDArray b = Nd4j.rand(DataType.FLOAT, k, n);
        INDArray c = Nd4j.create(DataType.FLOAT, m, n);
        for (int i = 0; i < 3; i++) {
            product(a, b, c);
        }
        double[] sec = new double[timed];
        for (int i = 0; i < timed; i++) {
            long t0 = System.nanoTime();
            product(a, b, c);
            c.getFloat(0); // the result is complete before the clock stops
            sec[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(sec);
        double median = timed % 2 == 1 ? sec[timed / 2] : (sec[timed / 2 - 1] + sec[timed / 2]) / 2;
        return 2.0 * m * k * n / median;
    }

    /** {@code c = a b} by libnd4j's matmul op, as SameDiff runs it. */
    static void product(INDArray a, INDArray b, INDArray c) {
        Nd4j.exec(new Mmul(a, b, c, null));
    }
}
