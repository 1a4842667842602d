package io.sgdpo.nn;

import java.util.Arrays;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.blas.params.MMulTranspose;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.Mmul;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The matrix products of an {@link IncrementalDecoder} step: a few rows (one per sequence being
 * generated, as a Java array, row-major) times one of the model's weight matrices, in place where
 * it lives.
 *
 * <p>On ND4J's CPU backend with a float32 weight, straight through OpenBLAS's CBLAS interface (the
 * library ND4J itself multiplies with) on the weight's own memory: the rows are copied into a
 * native buffer of the calling thread and the result out of another. libnd4j's matmul op costs a
 * fixed 50 µs on the 2-core development machine before any arithmetic ({@code [4, 256] x [256,
 * 256]}: 52 µs through the op, 2.9 through CBLAS, the same result to the bit; PyTorch's Linear 20),
 * and a step makes six such products per block. A single row goes to the matrix-vector product,
 * which, unlike the matrix product, does not first copy the whole weight into a packed buffer
 * ({@code [1, 768] x [768, 50257]}: 3.4 ms against 12.8). On other backends, or for other types,
 * through libnd4j's matmul op into a row-major result. Both compute the same sums as the training
 * graph's products up to float32 rounding.
 */
public final class StepProducts {

    private StepProducts() {
    }

    /** {@code rows W}, rows {@code [m, in]}, W {@code [in, out]} (the layout of DL4J and GPT-2's Conv1D). */
    public static double[] times(double[] rows, INDArray weight) {
        return product(rows, weight, false);
    }

    /** {@code rows W^T}, rows {@code [m, in]}, W {@code [out, in]} (torch's nn.Linear). */
    public static double[] timesTransposed(double[] rows, INDArray weight) {
        return product(rows, weight, true);
    }

    private static double[] product(double[] rows, INDArray weight, boolean transposed) {
        if (weight.rank() != 2) {
            throw new IllegalArgumentException("weight " + Arrays.toString(weight.shape()) + " must be a matrix");
        }
        long in = transposed ? weight.size(1) : weight.size(0);
        long out = transposed ? weight.size(0) : weight.size(1);
        if (rows.length == 0 || rows.length % in != 0) {
            throw new IllegalArgumentException(rows.length + " values are not rows of " + in + " to multiply "
                    + (transposed ? "the transpose of " : "") + "weight " + Arrays.toString(weight.shape()));
        }
        int m = (int) (rows.length / in);
        Layout layout = cblasLayout(weight);
        if (layout != null) {
            return Cblas.product(rows, m, (int) in, (int) out, weight, layout.rowMajor != transposed);
        }
        return throughNd4j(rows, m, in, out, weight, transposed);
    }

    /** Whether products with this weight go straight to CBLAS (else through libnd4j's matmul op). */
    static boolean goesToCblas(INDArray weight) {
        return cblasLayout(weight) != null;
    }

    /** Whether OpenBLAS's CBLAS is there to call: ND4J's CPU backend, whose native libraries include it. */
    static boolean cblasAvailable() {
        return Cblas.AVAILABLE;
    }

    /** The weight's layout when CBLAS can take it, else null. */
    private static Layout cblasLayout(INDArray weight) {
        return Cblas.AVAILABLE && weight.dataType() == DataType.FLOAT ? Layout.of(weight) : null;
    }

    /** How a weight's values lie in memory, if densely: row by row, or column by column. */
    private enum Layout {
        ROWS(true), COLUMNS(false);

        final boolean rowMajor;

        Layout(boolean rowMajor) {
            this.rowMajor = rowMajor;
        }

        static Layout of(INDArray w) {
            if (w.stride(1) == 1 && w.stride(0) == w.size(1)) {
                return ROWS;
            }
            if (w.stride(0) == 1 && w.stride(1) == w.size(0)) {
                return COLUMNS;
            }
            return null;
        }
    }

    private static double[] throughNd4j(double[] rows, int m, long in, long out, INDArray weight, boolean transposed) {
        INDArray x = StepRows.write(rows, (int) in, weight.dataType());
        if (m == 1) {
            // y = W^T x for W [in, out], y = W x for W [out, in]: a matrix-vector product
            INDArray y = Nd4j.createUninitialized(weight.dataType(), out);
            Nd4j.exec(new Mmul(weight, x.reshape(in), y, MMulTranspose.builder().transposeA(!transposed).build()));
            return StepRows.read(y);
        }
        INDArray y = Nd4j.createUninitialized(weight.dataType(), m, out);
        Nd4j.exec(new Mmul(x, weight, y, MMulTranspose.builder().transposeB(transposed).build()));
        return StepRows.read(y);
    }

    /**
     * OpenBLAS's CBLAS, when ND4J runs on the CPU with it (not on the CUDA backend, whose
     * classpath lacks OpenBLAS's native library).
     */
    private static final class Cblas {

        static final boolean AVAILABLE = load();

        /** Each thread's buffers for rows in and out, native and Java, grown as needed. */
        private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

        private static final class Buffers {
            FloatPointer in = new FloatPointer(0);
            FloatPointer out = new FloatPointer(0);
            float[] narrowIn = new float[0];
            float[] narrowOut = new float[0];
        }

        private static boolean load() {
            try {
                if (!Nd4j.getEnvironment().isCPU()) {
                    return false;
                }
                Loader.load(openblas_nolapack.class);
                return true;
            } catch (Throwable unavailable) {
                return false;
            }
        }

        /**
         * y [m, out] = x [m, in] W, W stored densely row by row as {@code [in, out]} when
         * {@code weightIsInByOut}, else as {@code [out, in]} (the product then takes its transpose).
         */
        static double[] product(double[] rows, int m, int in, int out, INDArray weight, boolean weightIsInByOut) {
            Buffers buffers = BUFFERS.get();
            int length = m * out;
            if (buffers.in.capacity() < rows.length) {
                buffers.in.close();
                buffers.in = new FloatPointer(rows.length);
                buffers.narrowIn = new float[rows.length];
            }
            if (buffers.out.capacity() < length) {
                buffers.out.close();
                buffers.out = new FloatPointer(length);
                buffers.narrowOut = new float[length];
            }
            FloatPointer x = buffers.in;
            FloatPointer y = buffers.out;
            x.put(StepRows.narrow(rows, buffers.narrowIn), 0, rows.length);
            FloatPointer w = new FloatPointer(weight.data().addressPointer());
            int rowMajor = openblas_nolapack.CblasRowMajor;
            int noTrans = openblas_nolapack.CblasNoTrans;
            int trans = openblas_nolapack.CblasTrans;
            if (m == 1) {
                if (weightIsInByOut) {
                    openblas_nolapack.cblas_sgemv(rowMajor, trans, in, out, 1f, w, out, x, 1, 0f, y, 1);
                } else {
                    openblas_nolapack.cblas_sgemv(rowMajor, noTrans, out, in, 1f, w, in, x, 1, 0f, y, 1);
                }
            } else {
                openblas_nolapack.cblas_sgemm(rowMajor, noTrans, weightIsInByOut ? noTrans : trans, m, out, in, 1f,
                        x, in, w, weightIsInByOut ? out : in, 0f, y, out);
            }
            y.get(buffers.narrowOut, 0, length);
            return StepRows.widen(buffers.narrowOut, length);
        }
    }
}
