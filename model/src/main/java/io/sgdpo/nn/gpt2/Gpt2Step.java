package io.sgdpo.nn.gpt2;

import static io.sgdpo.nn.StepProducts.times;
import static io.sgdpo.nn.StepRows.addRow;
import static io.sgdpo.nn.StepRows.addTo;
import static io.sgdpo.nn.StepRows.layerNorm;
import static io.sgdpo.nn.StepRows.read;
import static io.sgdpo.nn.StepRows.scale;
import static io.sgdpo.nn.StepRows.tanhGelu;

import io.sgdpo.nn.IncrementalDecoder;
import io.sgdpo.nn.KvCache;
import io.sgdpo.nn.StepProducts;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Gpt2Model}'s incremental step: the math of {@link Gpt2Block} (LayerNorm with the model's
 * epsilon, the fused c_attn projection, gelu_new), learned positions, ln_f and the head tied to
 * wte: the products on the graph's weight matrices, the rest on Java arrays ({@link
 * io.sgdpo.nn.StepRows}).
 */
public final class Gpt2Step extends IncrementalDecoder {

    private final Gpt2Config c;
    private final Map<String, INDArray> p;
    private final Vectors[] vectors;
    private final double[] finalGain;
    private final double[] finalBias;

    /** A block's norm gains and biases, copied when the step is made. */
    private static final class Vectors {
        final double[] gain1;
        final double[] bias1;
        final double[] attention;
        final double[] projection;
        final double[] gain2;
        final double[] bias2;
        final double[] inner;
        final double[] out;

        Vectors(Map<String, INDArray> p, int block) {
            gain1 = read(p.get(Gpt2Block.param(block, Gpt2Block.LN1_GAIN)));
            bias1 = read(p.get(Gpt2Block.param(block, Gpt2Block.LN1_BIAS)));
            attention = read(p.get(Gpt2Block.param(block, Gpt2Block.ATTN_BIAS)));
            projection = read(p.get(Gpt2Block.param(block, Gpt2Block.ATTN_PROJ_BIAS)));
            gain2 = read(p.get(Gpt2Block.param(block, Gpt2Block.LN2_GAIN)));
            bias2 = read(p.get(Gpt2Block.param(block, Gpt2Block.LN2_BIAS)));
            inner = read(p.get(Gpt2Block.param(block, Gpt2Block.FC_BIAS)));
            out = read(p.get(Gpt2Block.param(block, Gpt2Block.MLP_PROJ_BIAS)));
        }
    }

    /**
     * @param c      the model's sizes
     * @param params its parameters by name ({@link Gpt2Model#defineParameters})
     */
    public Gpt2Step(Gpt2Config c, Map<String, INDArray> params) {
        this.c = c;
        this.p = params;
        this.vectors = new Vectors[c.layers()];
        for (int i = 0; i < vectors.length; i++) {
            vectors[i] = new Vectors(params, i);
        }
        this.finalGain = read(params.get(Gpt2Model.LNF_GAIN));
        this.finalBias = read(params.get(Gpt2Model.LNF_BIAS));
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
        return c.heads();
    }

    @Override
    protected int headSize() {
        return c.headSize();
    }

    @Override
    public int maxPositions() {
        return c.positions();
    }

    @Override
    protected DataType dataType() {
        return p.get(Gpt2Model.WTE).dataType();
    }

    @Override
    protected double[] hidden(KvCache cache, int[] ids, int[] positions) {
        int d = c.width();
        double[] x = read(Nd4j.pullRows(p.get(Gpt2Model.WTE), 1, ids));
        addTo(x, read(Nd4j.pullRows(p.get(Gpt2Model.WPE), 1, positions)));
        double queryScale = 1.0 / Math.sqrt(c.headSize());
        double eps = c.layerNormEps();
        for (int i = 0; i < c.layers(); i++) {
            Vectors v = vectors[i];
            double[] qkv = addRow(times(layerNorm(x, d, v.gain1, v.bias1, eps), param(i, Gpt2Block.ATTN)),
                    v.attention);
            int m = ids.length;
            double[] q = new double[m * d];
            double[] k = new double[m * d];
            double[] value = new double[m * d];
            for (int r = 0; r < m; r++) {
                System.arraycopy(qkv, r * 3 * d, q, r * d, d);
                System.arraycopy(qkv, r * 3 * d + d, k, r * d, d);
                System.arraycopy(qkv, r * 3 * d + 2 * d, value, r * d, d);
            }
            double[] attended = cache.attend(i, scale(q, queryScale), k, value);
            addTo(x, addRow(times(attended, param(i, Gpt2Block.ATTN_PROJ)), v.projection));
            double[] h2 = layerNorm(x, d, v.gain2, v.bias2, eps);
            double[] inner = tanhGelu(addRow(times(h2, param(i, Gpt2Block.FC)), v.inner));
            addTo(x, addRow(times(inner, param(i, Gpt2Block.MLP_PROJ)), v.out));
        }
        return layerNorm(x, d, finalGain, finalBias, eps);
    }

    @Override
    protected double[] head(double[] hidden) {
        return StepProducts.timesTransposed(hidden, p.get(Gpt2Model.WTE));
    }

    private INDArray param(int block, String part) {
        return p.get(Gpt2Block.param(block, part));
    }
}
