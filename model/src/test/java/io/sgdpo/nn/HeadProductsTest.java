package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link HeadProducts}: each of the three forms of the attention's products (rows times rows
 * transposed, per head times rows, per head transposed times rows) by CBLAS and by libnd4j's
 * batched op against the same product taken block by block from {@code get} views with ND4J's
 * {@code mmul}, in double precision. Within 1e-12
 * relative to the product's largest entry: the same sums in another order round differently in the
 * last bits (about 1e-16); a block taken from the wrong example, head or offset is off by order one.
 */
class HeadProductsTest {

    private static final int EXAMPLES = 3;
    private static final int HEADS = 2;
    private static final int LENGTH = 5;
    private static final int HEAD_SIZE = 4;
    private static final int WIDTH = HEADS * HEAD_SIZE;
    private static final LayerWorkspaceMgr NO_WORKSPACES = LayerWorkspaceMgr.noWorkspaces();

    @Test
    void everyProductOfThePassesEqualsItsBlocks() {
        Nd4j.getRandom().setSeed(11);
        INDArray q = rows();
        INDArray k = rows();
        INDArray weights = perHead();
        // the scores s q k^T, and the weights' gradient dm v^T
        check(q, false, k, true, perHead(), 0.125);
        // the attended rows w v, and the queries' gradient s ds k
        check(weights, false, k, false, rows(), 0.5);
        // the keys' gradient s ds^T q, and the values' w^T dm
        check(weights, true, q, false, rows(), 0.5);
    }

    @Test
    void rowsAtAnOffsetIntoALargerArrayAreTakenFromTheirOwnStart() {
        Nd4j.getRandom().setSeed(12);
        INDArray larger = Nd4j.randn(DataType.DOUBLE, EXAMPLES * LENGTH + 2, WIDTH);
        INDArray q = larger.get(interval(2, EXAMPLES * LENGTH + 2), all());
        assertTrue(q.offset() > 0, "the view starts inside the array");
        assertTrue(HeadProducts.throughCblas(HEADS, LENGTH, q, rows(), perHead()), "a dense view goes to CBLAS");
        check(q, false, rows(), true, perHead(), 1.0);
    }

    @Test
    void denseFloat32AndFloat64GoToCblasAndOtherLayoutsToTheBatchedOp() {
        assertTrue(HeadProducts.throughCblas(HEADS, LENGTH, rows(), rows(), perHead()));
        assertTrue(HeadProducts.throughCblas(HEADS, LENGTH, rows().castTo(DataType.FLOAT),
                rows().castTo(DataType.FLOAT), perHead().castTo(DataType.FLOAT)));
        INDArray gaps = Nd4j.randn(DataType.DOUBLE, EXAMPLES * LENGTH, 2 * WIDTH).get(all(), interval(0, WIDTH));
        assertFalse(HeadProducts.throughCblas(HEADS, LENGTH, gaps, rows(), perHead()), "rows with gaps");
        assertFalse(HeadProducts.throughCblas(HEADS, LENGTH, rows().castTo(DataType.FLOAT), rows(), perHead()),
                "mixed types");
        assertFalse(HeadProducts.throughCblas(HEADS, LENGTH, rows().castTo(DataType.HALF),
                rows().castTo(DataType.HALF), perHead().castTo(DataType.HALF)), "half precision");
        // a layout CBLAS does not take still multiplies, by the batched op
        check(gaps, false, rows(), true, perHead(), 1.0);
    }

    @Test
    void mismatchedOperandsAreRefused() {
        INDArray fewerExamples = Nd4j.randn(DataType.DOUBLE, (EXAMPLES - 1) * LENGTH, WIDTH);
        assertThrows(IllegalArgumentException.class, () -> HeadProducts.product(fewerExamples, false, rows(), true,
                perHead(), 1.0, HEADS, LENGTH, NO_WORKSPACES, ArrayType.FF_WORKING_MEM));
    }

    /** {@code c = alpha op(a) op(b)} by {@link HeadProducts#product} and by the batched op, against its blocks. */
    private static void check(INDArray a, boolean transposeA, INDArray b, boolean transposeB, INDArray c,
                              double alpha) {
        INDArray expected = c.ulike();
        // blocks of dense copies: ND4J's get of a view with gaps at an offset came back float32
        INDArray denseA = a.dup('c');
        INDArray denseB = b.dup('c');
        for (int e = 0; e < EXAMPLES; e++) {
            for (int j = 0; j < HEADS; j++) {
                INDArray blockA = block(denseA, e, j);
                INDArray blockB = block(denseB, e, j);
                INDArray product = (transposeA ? blockA.transpose() : blockA)
                        .mmul(transposeB ? blockB.transpose() : blockB).muli(alpha);
                block(expected, e, j).assign(product);
            }
        }
        String what = (a.rank() == 2 ? "rows" : "per head") + (transposeA ? "^T" : "") + " x "
                + (b.rank() == 2 ? "rows" : "per head") + (transposeB ? "^T" : "") + " into "
                + (c.rank() == 2 ? "rows" : "per head");
        double scale = expected.amaxNumber().doubleValue();
        HeadProducts.product(a, transposeA, b, transposeB, c, alpha, HEADS, LENGTH, NO_WORKSPACES,
                ArrayType.FF_WORKING_MEM);
        assertEquals(0.0, expected.sub(c).amaxNumber().doubleValue() / scale, 1e-12, what);
        INDArray batched = c.ulike();
        HeadProducts.throughBatchedOp(a, transposeA, b, transposeB, batched, alpha, HEADS, LENGTH, NO_WORKSPACES,
                ArrayType.FF_WORKING_MEM);
        assertEquals(0.0, expected.sub(batched).amaxNumber().doubleValue() / scale, 1e-12, what + ", batched op");
    }

    /** Head j of example e: of rows, its {@code [T, d/h]} block; of per-head arrays, its {@code [T, T]} matrix. */
    private static INDArray block(INDArray x, int example, int head) {
        if (x.rank() == 2) {
            return x.get(interval(example * LENGTH, (example + 1) * LENGTH),
                    interval(head * HEAD_SIZE, (head + 1) * HEAD_SIZE));
        }
        return x.get(point(example * HEADS + head), all(), all());
    }

    private static INDArray rows() {
        return Nd4j.randn(DataType.DOUBLE, EXAMPLES * LENGTH, WIDTH);
    }

    private static INDArray perHead() {
        return Nd4j.randn(DataType.DOUBLE, EXAMPLES * HEADS, LENGTH, LENGTH);
    }
}
