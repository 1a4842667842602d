package io.sgdpo.nn;

import java.util.Arrays;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.util.ArrayUtil;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The attention's matrix products of {@link TransformerBlock}, one per example and head, on the two
 * layouts the block's passes keep their arrays in:
 * <ul>
 *   <li>rows {@code [mb*T, d]} (queries, keys, values, the attended rows and their gradients), whose
 *       head j of example e is the {@code [T, d/h]} block at rows {@code e T ...}, columns {@code j
 *       d/h ...};</li>
 *   <li>per head {@code [mb*h, T, T]} (scores, attention weights and their gradients), whose matrix
 *       {@code e h + j} is that head's.</li>
 * </ul>
 * Every product is {@code C = alpha op(A) op(B)} for each (e, j); an operand's rank says its layout.
 *
 * <p>On ND4J's CPU backend, for dense float32 or float64 arrays, each block goes straight to
 * OpenBLAS's CBLAS ({@code cblas_sgemm}, {@code cblas_dgemm}) with the rows' width as its leading
 * dimension, so the heads are never copied out of the rows. libnd4j's batched matmul op needs them
 * as {@code [mb*h, T, d/h]} copies: at bench-peer's mid shape ({@code mb*h} 32, T 128, d/h 64) the
 * forward pass's split, two products and merge took 3.7 ms per block there against 1.5 for the same
 * products by CBLAS on the 2-core development machine, the same values to the bit
 * ({@code bench/head-products/AttnProbe.java}). Elsewhere (the CUDA backend, other layouts) the
 * copies and libnd4j's batched op.
 */
final class HeadProducts {

    private HeadProducts() {
    }

    /**
     * {@code c = alpha op(a) op(b)} for every example and head, {@code c} overwritten; each operand
     * rows {@code [mb*T, d]} (rank 2) or per head {@code [mb*h, T, T]} (rank 3). {@code mgr} and
     * {@code work} allocate the copies of the way through libnd4j's op.
     */
    static INDArray product(INDArray a, boolean transposeA, INDArray b, boolean transposeB, INDArray c, double alpha,
                            int heads, int length, LayerWorkspaceMgr mgr, ArrayType work) {
        if (throughCblas(heads, length, a, b, c)) {
            Cblas.product(a, transposeA, b, transposeB, c, alpha, heads, length);
        } else {
            throughBatchedOp(a, transposeA, b, transposeB, c, alpha, heads, length, mgr, work);
        }
        return c;
    }

    /** Whether {@link #product} of these arrays goes to CBLAS (else through libnd4j's batched op). */
    static boolean throughCblas(int heads, int length, INDArray... operands) {
        if (!StepProducts.cblasAvailable()) {
            return false;
        }
        DataType type = operands[0].dataType();
        if (type != DataType.FLOAT && type != DataType.DOUBLE) {
            return false;
        }
        for (INDArray operand : operands) {
            if (operand.dataType() != type || !dense(operand, heads, length)) {
                return false;
            }
        }
        return true;
    }

    /** Row-major and without gaps, rows of a length that splits into heads, or per-head {@code [*, T, T]}. */
    private static boolean dense(INDArray x, int heads, int length) {
        if (!Arrays.equals(x.stride(), ArrayUtil.calcStrides(x.shape()))) {
            return false;
        }
        if (x.rank() == 2) {
            return x.size(0) % length == 0 && x.size(1) % heads == 0;
        }
        return x.rank() == 3 && x.size(0) % heads == 0 && x.size(1) == length && x.size(2) == length;
    }

    /** {@link #product} through per-head copies and libnd4j's batched op, whatever the arrays. */
    static void throughBatchedOp(INDArray a, boolean transposeA, INDArray b, boolean transposeB, INDArray c,
                                 double alpha, int heads, int length, LayerWorkspaceMgr mgr, ArrayType work) {
        INDArray batchedC = c.rank() == 2 ? mgr.createUninitialized(work, c.dataType(),
                perHeadShape(c, heads, length), 'c') : c;
        DirectPasses.product(perHead(a, heads, length, mgr, work), transposeA, perHead(b, heads, length, mgr, work),
                transposeB, batchedC, alpha, 0.0);
        if (c.rank() == 2) {
            long examples = c.size(0) / length;
            long headSize = c.size(1) / heads;
            c.reshape('c', examples, length, heads, headSize)
                    .assign(batchedC.reshape('c', examples, heads, length, headSize).permute(0, 2, 1, 3));
        }
    }

    /** Rows {@code [mb*T, d]} as a copy {@code [mb*h, T, d/h]}; per-head arrays as they are. */
    private static INDArray perHead(INDArray x, int heads, int length, LayerWorkspaceMgr mgr, ArrayType work) {
        if (x.rank() == 3) {
            return x;
        }
        long examples = x.size(0) / length;
        long headSize = x.size(1) / heads;
        INDArray copy = mgr.createUninitialized(work, x.dataType(), new long[] {examples, heads, length, headSize},
                'c');
        copy.assign(x.reshape('c', examples, length, heads, headSize).permute(0, 2, 1, 3));
        return copy.reshape('c', perHeadShape(x, heads, length));
    }

    private static long[] perHeadShape(INDArray rows, int heads, int length) {
        return new long[] {rows.size(0) / length * heads, length, rows.size(1) / heads};
    }

    /** The products by OpenBLAS's CBLAS, block by block, on the arrays' own memory. */
    private static final class Cblas {

        /** One operand's blocks: where block (e, j) starts, its rows and columns and leading dimension. */
        private record Blocks(Pointer memory, boolean rowsLayout, long width, int rows, int columns, int heads,
                              int length, long examples) {

            static Blocks of(INDArray x, int heads, int length) {
                Pointer address = x.data().addressPointer();
                Pointer memory = x.dataType() == DataType.FLOAT ? new FloatPointer(address)
                        : new DoublePointer(address);
                if (x.rank() == 2) {
                    return new Blocks(memory, true, x.size(1), length, (int) (x.size(1) / heads), heads, length,
                            x.size(0) / length);
                }
                return new Blocks(memory, false, length, length, length, heads, length, x.size(0) / heads);
            }

            /** The memory at block (e, j). */
            Pointer at(int example, int head) {
                long start = rowsLayout ? (long) example * length * width + (long) head * columns
                        : (long) (example * heads + head) * length * length;
                return memory.position(start);
            }

            int leadingDimension() {
                return (int) width;
            }
        }

        static void product(INDArray a, boolean transposeA, INDArray b, boolean transposeB, INDArray c, double alpha,
                            int heads, int length) {
            Blocks blocksA = Blocks.of(a, heads, length);
            Blocks blocksB = Blocks.of(b, heads, length);
            Blocks blocksC = Blocks.of(c, heads, length);
            int m = blocksC.rows;
            int n = blocksC.columns;
            int k = transposeA ? blocksA.rows : blocksA.columns;
            int expectedK = transposeB ? blocksB.columns : blocksB.rows;
            if ((transposeA ? blocksA.columns : blocksA.rows) != m || (transposeB ? blocksB.rows : blocksB.columns) != n
                    || k != expectedK || blocksA.examples != blocksC.examples || blocksB.examples != blocksC.examples) {
                throw new IllegalArgumentException("per-head products of " + Arrays.toString(a.shape())
                        + (transposeA ? "^T" : "") + " and " + Arrays.toString(b.shape()) + (transposeB ? "^T" : "")
                        + " into " + Arrays.toString(c.shape()) + " do not match");
            }
            long examples = blocksC.examples;
            int rowMajor = openblas_nolapack.CblasRowMajor;
            int opA = transposeA ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans;
            int opB = transposeB ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans;
            boolean single = c.dataType() == DataType.FLOAT;
            for (int e = 0; e < examples; e++) {
                for (int j = 0; j < heads; j++) {
                    if (single) {
                        openblas_nolapack.cblas_sgemm(rowMajor, opA, opB, m, n, k, (float) alpha,
                                (FloatPointer) blocksA.at(e, j), blocksA.leadingDimension(),
                                (FloatPointer) blocksB.at(e, j), blocksB.leadingDimension(), 0f,
                                (FloatPointer) blocksC.at(e, j), blocksC.leadingDimension());
                    } else {
                        openblas_nolapack.cblas_dgemm(rowMajor, opA, opB, m, n, k, alpha,
                                (DoublePointer) blocksA.at(e, j), blocksA.leadingDimension(),
                                (DoublePointer) blocksB.at(e, j), blocksB.leadingDimension(), 0.0,
                                (DoublePointer) blocksC.at(e, j), blocksC.leadingDimension());
                    }
                }
            }
        }
    }
}
