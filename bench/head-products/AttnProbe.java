import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Times the attention's products of one block at a shape (args: examples T d heads; bench-peer's mid
 * shape is 8 128 256 4) two ways: libnd4j's batched matmul op on [mb*h, T, d/h] copies of the heads
 * (the queries', keys' and values' split, the scores, the attended rows and their merge back into
 * rows), as TransformerBlock.Impl did, against OpenBLAS's cblas_sgemm per example and head on the
 * rows' own memory, as HeadProducts does; then checks that both give the same scores. Medians of 7
 * batches of 20 calls after 20 warm-up calls. Not part of the build; compile and run against the
 * benchmarks' classpath (after ./sgdpo builds it):
 *   CP="$(cat benchmarks/target/sgdpo.classpath)"; javac -cp "$CP" -d /tmp/probe bench/head-products/AttnProbe.java
 *   OMP_NUM_THREADS=2 OPENBLAS_CORETYPE=SkylakeX OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4 \
 *     java -cp "/tmp/probe:$CP" AttnProbe 8 128 256 4
 * Output of runs on the 2-core development machine, 2 and 1 threads: attnprobe.txt beside this file.
 */
public class AttnProbe {
    interface Op { void run(); }
    interface HeadOp { void run(long rows, long square); }

    /** Each head's offsets: of its block in the rows [mb*T, d], of its matrix in [mb*h, T, T]. */
    static void eachHead(int mb, int h, int T, int d, int dh, HeadOp op) {
        for (int e = 0; e < mb; e++) {
            for (int j = 0; j < h; j++) {
                op.run((long) e * T * d + (long) j * dh, (long) (e * h + j) * T * T);
            }
        }
    }
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
        int mb = Integer.parseInt(args[0]);
        int T = Integer.parseInt(args[1]);
        int d = Integer.parseInt(args[2]);
        int h = Integer.parseInt(args[3]);
        int dh = d / h;
        int n = mb * T;
        Nd4j.getRandom().setSeed(1);
        INDArray q = Nd4j.randn(DataType.FLOAT, n, d);
        INDArray k = Nd4j.randn(DataType.FLOAT, n, d);
        INDArray v = Nd4j.randn(DataType.FLOAT, n, d);
        INDArray qh = Nd4j.create(DataType.FLOAT, mb, h, T, dh);
        INDArray kh = Nd4j.create(DataType.FLOAT, mb, h, T, dh);
        INDArray vh = Nd4j.create(DataType.FLOAT, mb, h, T, dh);
        INDArray q3 = qh.reshape('c', mb * h, T, dh);
        INDArray k3 = kh.reshape('c', mb * h, T, dh);
        INDArray v3 = vh.reshape('c', mb * h, T, dh);
        INDArray w = Nd4j.create(DataType.FLOAT, mb * h, T, T);
        INDArray att = Nd4j.create(DataType.FLOAT, mb * h, T, dh);
        INDArray m = Nd4j.create(DataType.FLOAT, n, d);
        MMulTranspose kTransposed = MMulTranspose.builder().transposeB(true).build();
        time("op: split q,k,v + QK^T + WV + merge", () -> {
            qh.assign(q.reshape('c', mb, T, h, dh).permute(0, 2, 1, 3));
            kh.assign(k.reshape('c', mb, T, h, dh).permute(0, 2, 1, 3));
            vh.assign(v.reshape('c', mb, T, h, dh).permute(0, 2, 1, 3));
            Nd4j.exec(new Mmul(q3, k3, w, 0.125, 0.0, kTransposed));
            Nd4j.exec(new Mmul(w, v3, att, 1.0, 0.0, MMulTranspose.builder().build()));
            m.reshape('c', mb, T, h, dh).assign(att.reshape('c', mb, h, T, dh).permute(0, 2, 1, 3));
        });
        time("op: QK^T only", () -> Nd4j.exec(new Mmul(q3, k3, w, 0.125, 0.0, kTransposed)));

        Loader.load(openblas_nolapack.class);
        FloatPointer pq = new FloatPointer(q.data().addressPointer());
        FloatPointer pk = new FloatPointer(k.data().addressPointer());
        FloatPointer pv = new FloatPointer(v.data().addressPointer());
        INDArray m2 = Nd4j.create(DataType.FLOAT, n, d);
        FloatPointer pm2 = new FloatPointer(m2.data().addressPointer());
        INDArray w2 = Nd4j.create(DataType.FLOAT, mb * h, T, T);
        FloatPointer pw2 = new FloatPointer(w2.data().addressPointer());
        int rowMajor = openblas_nolapack.CblasRowMajor;
        int no = openblas_nolapack.CblasNoTrans;
        int yes = openblas_nolapack.CblasTrans;
        Op scores = () -> eachHead(mb, h, T, d, dh, (rows, square) -> openblas_nolapack.cblas_sgemm(rowMajor, no,
                yes, T, T, dh, 0.125f, pq.position(rows), d, pk.position(rows), d, 0f, pw2.position(square), T));
        time("cblas per head: QK^T + WV", () -> {
            scores.run();
            eachHead(mb, h, T, d, dh, (rows, square) -> openblas_nolapack.cblas_sgemm(rowMajor, no, no, T, dh, T,
                    1f, pw2.position(square), T, pv.position(rows), d, 0f, pm2.position(rows), d));
        });
        time("cblas per head: QK^T only", scores);

        qh.assign(q.reshape('c', mb, T, h, dh).permute(0, 2, 1, 3));
        kh.assign(k.reshape('c', mb, T, h, dh).permute(0, 2, 1, 3));
        Nd4j.exec(new Mmul(q3, k3, w, 0.125, 0.0, kTransposed));
        scores.run();
        System.out.println("largest |scores by the op - scores by cblas| = "
                + Transforms.abs(w.sub(w2)).maxNumber());
    }
}
