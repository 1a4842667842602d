package io.sgdpo.nn.llama;

import static io.sgdpo.nn.StepRows.addRow;
import static io.sgdpo.nn.StepRows.addTo;
import static io.sgdpo.nn.StepRows.read;
import static io.sgdpo.nn.StepRows.rmsNorm;
import static io.sgdpo.nn.StepRows.swiglu;

import io.sgdpo.nn.IncrementalDecoder;
import io.sgdpo.nn.KvCache;
import io.sgdpo.nn.StepProducts;
import java.util.HashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link LlamaModel}'s incremental step: the math of {@link LlamaBlock} (RMSNorm, q/k/v with their
 * optional biases, rotary positions in the rotate-half layout, grouped-query attention, SwiGLU), the
 * final RMSNorm and the head, tied or untied: the products on the graph's weight matrices, the rest
 * on Java arrays ({@link io.sgdpo.nn.StepRows}). The rotation angles
 * are {@link Rope}'s, computed for the positions of the step only (a model may allow tens of
 * thousands).
 */
public final class LlamaStep extends IncrementalDecoder {

    private final LlamaConfig c;
    private final Map<String, INDArray> p;
    private final double[][] attentionNorms;
    private final double[][] mlpNorms;
    private final double[] finalNorm;
    private final Map<String, double[]> biases; // the q/k/v biases a model has, copied
    private final double[] frequencies; // per dimension j of a head: theta^(-2 (j mod n/2) / n)

    /**
     * @param c      the model's sizes
     * @param params its parameters by name ({@link LlamaModel#defineParameters})
     */
    public LlamaStep(LlamaConfig c, Map<String, INDArray> params) {
        this.c = c;
        this.p = params;
        int n = c.headDim();
        int half = n / 2;
        this.attentionNorms = new double[c.layers()][];
        this.mlpNorms = new double[c.layers()][];
        this.biases = new HashMap<>();
        for (int i = 0; i < c.layers(); i++) {
            attentionNorms[i] = read(param(i, LlamaBlock.ATTN_NORM));
            mlpNorms[i] = read(param(i, LlamaBlock.MLP_NORM));
            for (String bias : new String[] {LlamaBlock.Q_BIAS, LlamaBlock.K_BIAS, LlamaBlock.V_BIAS}) {
                INDArray values = param(i, bias);
                if (values != null) {
                    biases.put(LlamaBlock.param(i, bias), read(values));
                }
            }
        }
        this.finalNorm = read(params.get(LlamaModel.NORM));
        this.frequencies = new double[n];
        for (int j = 0; j < n; j++) {
            frequencies[j] = Math.pow(c.ropeTheta(), -2.0 * (j % half) / n);
        }
    }

    @Override
    protected int layers() {
        return c.layers();
    }

    @Override
    protected int heads() {
        return c.heads();
    }

    @Override
    protected int kvHeads() {
        return c.kvHeads();
    }

    @Override
    protected int headSize() {
        return c.headDim();
    }

    @Override
    public int maxPositions() {
        return c.maxPositions();
    }

    @Override
    protected DataType dataType() {
        return p.get(LlamaModel.EMBED).dataType();
    }

    @Override
    protected double[] hidden(KvCache cache, int[] ids, int[] positions) {
        int d = c.hiddenSize();
        double[] x = read(Nd4j.pullRows(p.get(LlamaModel.EMBED), 1, ids));
        double queryScale = 1.0 / Math.sqrt(c.headDim());
        double eps = c.rmsNormEps();
        double[][] angles = angles(positions);
        for (int i = 0; i < c.layers(); i++) {
            double[] h = rmsNorm(x, d, attentionNorms[i], eps);
            double[] q = rotate(linear(h, i, LlamaBlock.Q, LlamaBlock.Q_BIAS), angles, queryScale);
            double[] k = rotate(linear(h, i, LlamaBlock.K, LlamaBlock.K_BIAS), angles, 1.0);
            double[] v = linear(h, i, LlamaBlock.V, LlamaBlock.V_BIAS);
            addTo(x, linear(cache.attend(i, q, k, v), i, LlamaBlock.O, null));
            double[] h2 = rmsNorm(x, d, mlpNorms[i], eps);
            double[] swiglu = swiglu(linear(h2, i, LlamaBlock.GATE, null), linear(h2, i, LlamaBlock.UP, null));
            addTo(x, linear(swiglu, i, LlamaBlock.DOWN, null));
        }
        return rmsNorm(x, d, finalNorm, eps);
    }

    @Override
    protected double[] head(double[] hidden) {
        return StepProducts.timesTransposed(hidden, p.get(c.tiedEmbeddings() ? LlamaModel.EMBED : LlamaModel.HEAD));
    }

    private INDArray param(int block, String part) {
        return p.get(LlamaBlock.param(block, part));
    }

    /** {@code x W^T (+ b)}, W {@code [out, in]} as torch's nn.Linear, b the block's (null: none). */
    private double[] linear(double[] rows, int block, String weight, String bias) {
        return addRow(StepProducts.timesTransposed(rows, param(block, weight)),
                bias == null ? null : biases.get(LlamaBlock.param(block, bias)));
    }

    /** cos and sin {@code [m * headDim]} of each position's angles, computed once per step. */
    private double[][] angles(int[] positions) {
        int n = c.headDim();
        double[] cos = new double[positions.length * n];
        double[] sin = new double[positions.length * n];
        for (int r = 0; r < positions.length; r++) {
            for (int j = 0; j < n; j++) {
                double angle = positions[r] * frequencies[j];
                cos[r * n + j] = Math.cos(angle);
                sin[r * n + j] = Math.sin(angle);
            }
        }
        return new double[][] {cos, sin};
    }

    /**
     * Rows {@code [m, heads*headDim]} rotated in place, row r by its position's angles: per head
     * x cos + rotate_half(x) sin, rotate_half(x) = (-x[n/2:], x[:n/2]), both times {@code scale}.
     */
    private double[] rotate(double[] rows, double[][] angles, double scale) {
        int n = c.headDim();
        int half = n / 2;
        int m = angles[0].length / n;
        int width = rows.length / m;
        double[] head = new double[n];
        for (int r = 0; r < m; r++) {
            for (int start = r * width; start < (r + 1) * width; start += n) {
                System.arraycopy(rows, start, head, 0, n);
                for (int j = 0; j < n; j++) {
                    double rotated = j < half ? -head[j + half] : head[j - half];
                    rows[start + j] = (head[j] * angles[0][r * n + j] + rotated * angles[1][r * n + j]) * scale;
                }
            }
        }
        return rows;
    }
}
