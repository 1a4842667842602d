package io.sgdpo.nn.llama;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Rotary position embedding in transformers' rotate-half layout: within each head of size n, the
 * pair (j, j + n/2) is rotated by the angle t * theta^(-2j/n) at position t:
 * <pre>
 *   x' = x * cos + rotate_half(x) * sin,   rotate_half(x) = (-x[n/2:], x[:n/2])
 * </pre>
 * cos and sin are constants of the graph. The half swap is a reverse along an axis of size 2
 * ({@code [.., 2, n/2]}), and the sign of rotate_half is folded into the sin constant.
 */
final class Rope {

    private final int headDim;
    private final int length;
    private final SDVariable cos;
    private final SDVariable signedSin;

    Rope(SameDiff sd, int headDim, int length, double theta, DataType type) {
        this.headDim = headDim;
        this.length = length;
        int half = headDim / 2;
        double[] cosValues = new double[length * headDim];
        double[] sinValues = new double[length * headDim];
        for (int t = 0; t < length; t++) {
            for (int j = 0; j < headDim; j++) {
                double angle = t * Math.pow(theta, -2.0 * (j % half) / headDim);
                cosValues[t * headDim + j] = Math.cos(angle);
                sinValues[t * headDim + j] = j < half ? -Math.sin(angle) : Math.sin(angle);
            }
        }
        long[] shape = {length, 1, headDim}; // broadcasts over [mb, T, heads, headDim]
        this.cos = sd.constant(Nd4j.create(cosValues, shape, 'c').castTo(type));
        this.signedSin = sd.constant(Nd4j.create(sinValues, shape, 'c').castTo(type));
    }

    /** Rotates rows {@code [mb*T, heads*headDim]} ordered (example, position). */
    SDVariable apply(SameDiff sd, SDVariable rows, int heads) {
        SDVariable x = rows.reshape(-1, length, heads, headDim);
        SDVariable swapped = sd.reverse(rows.reshape(-1, 2, headDim / 2), 1).reshape(-1, length, heads, headDim);
        return x.mul(cos).add(swapped.mul(signedSin)).reshape(-1, heads * headDim);
    }
}
