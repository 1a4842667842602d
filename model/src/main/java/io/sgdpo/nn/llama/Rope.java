package io.sgdpo.nn.llama;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Rotary position embedding in transformers' rotate-half layout: within each head of size n, the
 * pair (j, j + n/2) is rotated by the angle t * theta^(-2j/n) at position t:
 * <pre>
 *   x' = x * cos + rotate_half(x) * sin,   rotate_half(x) = (-x[n/2:], x[:n/2])
 * </pre>
 * cos and sin are constants of the graph; rotate_half is a product with a constant signed
 * permutation {@code [n, n]} (ND4J's reverse op, the obvious alternative, measured an order of
 * magnitude slower than this product at these sizes).
 */
final class Rope {

    private final int headDim;
    private final int length;
    private final SDVariable cos;
    private final SDVariable sin;
    private final SDVariable queryCos;
    private final SDVariable querySin;
    private final SDVariable rotateHalf;

    /**
     * @param queryScale the attention's factor on the queries ({@link
     *                   io.sgdpo.nn.CausalAttention#queryScale}), folded into the constants that
     *                   rotate queries
     */
    Rope(SameDiff sd, int headDim, int length, double theta, double queryScale, DataType type) {
        this.headDim = headDim;
        this.length = length;
        double[][] angles = cosinesAndSines(headDim, length, theta);
        long[] shape = {length, 1, headDim}; // broadcasts over [mb, T, heads, headDim]
        this.cos = sd.constant(Nd4j.create(angles[0], shape, 'c').castTo(type));
        this.sin = sd.constant(Nd4j.create(angles[1], shape, 'c').castTo(type));
        this.queryCos = sd.constant(Nd4j.create(angles[0], shape, 'c').muli(queryScale).castTo(type));
        this.querySin = sd.constant(Nd4j.create(angles[1], shape, 'c').muli(queryScale).castTo(type));
        this.rotateHalf = sd.constant(rotateHalf(headDim, type));
    }

    /**
     * The cosines and sines {@code [T * headDim]} of every position's angles, ordered (position,
     * dimension j of a head): the angle of dimension j at position t is {@code t theta^(-2 (j mod
     * n/2) / n)}.
     */
    static double[][] cosinesAndSines(int headDim, int length, double theta) {
        int half = headDim / 2;
        double[] cosValues = new double[length * headDim];
        double[] sinValues = new double[length * headDim];
        for (int t = 0; t < length; t++) {
            for (int j = 0; j < headDim; j++) {
                double angle = t * Math.pow(theta, -2.0 * (j % half) / headDim);
                cosValues[t * headDim + j] = Math.cos(angle);
                sinValues[t * headDim + j] = Math.sin(angle);
            }
        }
        return new double[][] {cosValues, sinValues};
    }

    /** The signed permutation {@code R [n, n]} with {@code x R = rotate_half(x) = (-x[n/2:], x[:n/2])}. */
    static INDArray rotateHalf(int headDim, DataType type) {
        int half = headDim / 2;
        double[] permutation = new double[headDim * headDim];
        for (int j = 0; j < half; j++) {
            permutation[(j + half) * headDim + j] = -1;
            permutation[j * headDim + j + half] = 1;
        }
        return Nd4j.create(permutation, new long[] {headDim, headDim}, 'c').castTo(type);
    }

    /** Rotates key rows {@code [mb*T, heads*headDim]} ordered (example, position). */
    SDVariable apply(SDVariable rows, int heads) {
        return rotate(rows, heads, cos, sin);
    }

    /** Rotates query rows and multiplies them by the attention's query scale. */
    SDVariable applyToQueries(SDVariable rows, int heads) {
        return rotate(rows, heads, queryCos, querySin);
    }

    private SDVariable rotate(SDVariable rows, int heads, SDVariable cosine, SDVariable sine) {
        SDVariable x = rows.reshape(-1, length, heads, headDim);
        SDVariable rotated = rows.reshape(-1, headDim).mmul(rotateHalf).reshape(-1, length, heads, headDim);
        return x.mul(cosine).add(rotated.mul(sine)).reshape(-1, heads * headDim);
    }
}
