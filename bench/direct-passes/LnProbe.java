package io.sgdpo.nn;

import java.util.Arrays;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.LayerNorm;
import org.nd4j.linalg.api.ops.impl.transforms.custom.LayerNormBp;
import org.nd4j.linalg.api.ops.impl.transforms.strict.GELU;
import org.nd4j.linalg.api.ops.impl.transforms.strict.GELUDerivative;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Times the ops DirectPasses replaced against those it uses, alone, at bench-peer's mid shape (rows
 * [1024, 256], the MLP's [1024, 1024]): medians of 7 batches of 20 calls after 20 warm-up calls.
 * Not part of the build; compile and run against the benchmarks' classpath (after ./sgdpo builds it):
 *   CP="$(cat benchmarks/target/sgdpo.classpath)"; javac -cp "$CP" -d /tmp/probe bench/direct-passes/LnProbe.java
 *   OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 java -cp "/tmp/probe:$CP" io.sgdpo.nn.LnProbe
 * Output of one run on the 2-core development machine: lnprobe.txt beside this file.
 */
public class LnProbe {
    interface Op { void run(); }
    static void time(String name, Op op) {
        for (int i = 0; i < 20; i++) op.run();
        double[] t = new double[7];
        for (int r = 0; r < 7; r++) {
            long s = System.nanoTime();
            for (int i = 0; i < 20; i++) op.run();
            t[r] = (System.nanoTime() - s) / 20e3;
        }
        Arrays.sort(t);
        System.out.printf("%-50s %8.1f us (min %.1f)%n", name, t[3], t[0]);
    }
    public static void main(String[] args) {
        int n = 1024, d = 256;
        ComputationGraph g = Decoder.create(new DecoderConfig(16, d, 1, 4, 128, 0, 1), new SftLoss(), new NoOp(), DataType.FLOAT);
        DirectPasses norm = (DirectPasses) g.getLayer("norm");
        LayerWorkspaceMgr none = LayerWorkspaceMgr.noWorkspaces();
        INDArray x = Nd4j.randn(DataType.FLOAT, n, d), dy = Nd4j.randn(DataType.FLOAT, n, d);
        INDArray gain = Nd4j.rand(DataType.FLOAT, 1, d), bias = Nd4j.rand(DataType.FLOAT, 1, d);
        INDArray y = Nd4j.create(DataType.FLOAT, n, d), dx = Nd4j.create(DataType.FLOAT, n, d);
        INDArray dg = Nd4j.create(DataType.FLOAT, 1, d), db = Nd4j.create(DataType.FLOAT, 1, d);
        time("libnd4j layer_norm", () -> Nd4j.exec(new LayerNorm(x, gain.reshape(d), bias.reshape(d), y, false, 1)));
        time("libnd4j layer_norm_bp", () -> Nd4j.exec(new LayerNormBp(x, gain.reshape(d), bias.reshape(d), dy, dx,
                dg.reshape(d), db.reshape(d), false, 1)));
        time("DirectPasses.layerNorm", () -> norm.layerNorm(x, gain, bias, y, none, ArrayType.FF_WORKING_MEM));
        time("DirectPasses.layerNorm + layerNormBackward", () -> norm.layerNormBackward(
                norm.layerNorm(x, gain, bias, y, none, ArrayType.FF_WORKING_MEM), gain, dy, dx, dg, db, none));
        time("libnd4j column sums (sum over rows)", () -> dy.sum(db, 0));
        time("DirectPasses.columnSums", () -> norm.columnSums(dy, db));
        INDArray u = Nd4j.randn(DataType.FLOAT, n, 4 * d), a = Nd4j.create(DataType.FLOAT, n, 4 * d);
        INDArray s = Nd4j.create(DataType.FLOAT, n, 4 * d), da = Nd4j.randn(DataType.FLOAT, n, 4 * d);
        INDArray t = Nd4j.create(DataType.FLOAT, n, 4 * d);
        time("libnd4j gelu [n,4d]", () -> Nd4j.exec(new GELU(u, a)));
        time("libnd4j gelu derivative x gradient", () -> { Nd4j.exec(new GELUDerivative(u, t)); t.muli(da); });
        time("sigmoid(1.702u), u s", () -> { Transforms.sigmoid(u.mul(1.702f, s), false); u.mul(s, a); });
        time("(s + 1.702 a (1 - s)) x gradient", () -> s.rsub(1.0, t).muli(a).muli(1.702f).addi(s).muli(da));
    }
}
