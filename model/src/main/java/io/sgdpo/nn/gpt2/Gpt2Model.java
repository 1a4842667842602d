package io.sgdpo.nn.gpt2;

import io.sgdpo.nn.Architecture;
import io.sgdpo.nn.CausalAttention;
import io.sgdpo.nn.DirectPasses;
import io.sgdpo.nn.LanguageModelLayer;
import io.sgdpo.nn.WeightTable;
import java.util.Map;
import java.util.Objects;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * transformers' GPT-2 (GPT2LMHeadModel) as one layer: token and learned position embeddings,
 * pre-LayerNorm {@link Gpt2Block}s, the final LayerNorm {@code ln_f}, and the output head tied to
 * the token embedding {@code wte}, without bias.
 *
 * <p>Parameters: {@code wte [V, d]}, {@code wpe [positions, d]} (all positions, so that an export
 * writes them all; the graph uses the first T), per block i {@code l<i>Ln1Gain}, {@code
 * l<i>Ln1Bias [1, d]}, {@code l<i>Attn [d, 3d]}, {@code l<i>AttnBias [1, 3d]}, {@code l<i>AttnProj
 * [d, d]}, {@code l<i>AttnProjBias}, {@code l<i>Ln2Gain}, {@code l<i>Ln2Bias [1, d]}, {@code
 * l<i>Fc [d, inner]}, {@code l<i>FcBias [1, inner]}, {@code l<i>MlpProj [inner, d]}, {@code
 * l<i>MlpProjBias [1, d]}; then {@code lnfGain}, {@code lnfBias [1, d]}. Gains and biases are DL4J
 * bias parameters, which DL4J's weight decay leaves alone.
 *
 * <p>DL4J runs the layer as {@link Gpt2Passes}: its passes written out, which take any length up to T.
 */
public class Gpt2Model extends LanguageModelLayer {

    private static final long serialVersionUID = 1L;
    static final String WTE = "wte";
    static final String WPE = "wpe";
    static final String LNF_GAIN = "lnfGain";
    static final String LNF_BIAS = "lnfBias";
    private static final double INIT_STD = 0.02;

    private int layers;
    private int heads;
    private int inner;
    private int positions;
    private double layerNormEps;

    private Gpt2Model() {
        // for JSON deserialisation
    }

    /**
     * @param c      the model's sizes
     * @param length sequence length T the graph is built for, at most {@code c.positions()}
     */
    public Gpt2Model(Gpt2Config c, int length) {
        super(c.vocabSize(), c.width(), length);
        if (length < 1 || length > c.positions()) {
            throw new IllegalArgumentException("sequence length " + length + " outside 1.." + c.positions()
                    + " (the model's n_positions)");
        }
        this.layers = c.layers();
        this.heads = c.heads();
        this.inner = c.inner();
        this.positions = c.positions();
        this.layerNormEps = c.layerNormEps();
    }

    /** The model's sizes. */
    public Gpt2Config config() {
        return new Gpt2Config(vocabSize, modelWidth, layers, heads, inner, positions, layerNormEps);
    }

    @Override
    protected SDVariable hiddenStates(SameDiff sd, SDVariable oneHotIds, Map<String, SDVariable> p, DataType type) {
        Gpt2Config c = config();
        SDVariable positionRows = sd.stridedSlice(p.get(WPE), new long[] {0, 0}, new long[] {length, modelWidth},
                1, 1); // the first T positions, [T, d]
        SDVariable x = lookup(sd, oneHotIds, p.get(WTE)).reshape(-1, length, modelWidth).add(positionRows)
                .reshape(-1, modelWidth);
        CausalAttention attention = new CausalAttention(sd, heads, heads, c.headSize(), length, type);
        for (int i = 0; i < layers; i++) {
            x = Gpt2Block.apply(sd, x, p, i, c, attention);
        }
        return Gpt2Block.layerNorm(sd, x, p.get(LNF_GAIN), p.get(LNF_BIAS), layerNormEps);
    }

    @Override
    protected DirectPasses directPasses(NeuralNetConfiguration conf, DataType networkDataType) {
        return new Gpt2Passes(conf, networkDataType);
    }

    @Override
    protected SDVariable headWeight(Map<String, SDVariable> p) {
        return p.get(WTE);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        int d = modelWidth;
        params.addWeightParam(WTE, vocabSize, d);
        params.addWeightParam(WPE, positions, d);
        for (int i = 0; i < layers; i++) {
            params.addBiasParam(Gpt2Block.param(i, Gpt2Block.LN1_GAIN), 1, d);
            params.addBiasParam(Gpt2Block.param(i, Gpt2Block.LN1_BIAS), 1, d);
            params.addWeightParam(Gpt2Block.param(i, Gpt2Block.ATTN), d, 3 * d);
            params.addBiasParam(Gpt2Block.param(i, Gpt2Block.ATTN_BIAS), 1, 3 * d);
            params.addWeightParam(Gpt2Block.param(i, Gpt2Block.ATTN_PROJ), d, d);
            params.addBiasParam(Gpt2Block.param(i, Gpt2Block.ATTN_PROJ_BIAS), 1, d);
            params.addBiasParam(Gpt2Block.param(i, Gpt2Block.LN2_GAIN), 1, d);
            params.addBiasParam(Gpt2Block.param(i, Gpt2Block.LN2_BIAS), 1, d);
            params.addWeightParam(Gpt2Block.param(i, Gpt2Block.FC), d, inner);
            params.addBiasParam(Gpt2Block.param(i, Gpt2Block.FC_BIAS), 1, inner);
            params.addWeightParam(Gpt2Block.param(i, Gpt2Block.MLP_PROJ), inner, d);
            params.addBiasParam(Gpt2Block.param(i, Gpt2Block.MLP_PROJ_BIAS), 1, d);
        }
        params.addBiasParam(LNF_GAIN, 1, d);
        params.addBiasParam(LNF_BIAS, 1, d);
    }

    /**
     * GPT-2's initialisation: weights N(0, 0.02), the two residual projections of each block
     * N(0, 0.02 / sqrt(2 layers)), gains 1, biases 0.
     */
    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            String name = e.getKey();
            INDArray p = e.getValue();
            if (name.endsWith("Gain")) {
                p.assign(1.0);
            } else if (name.endsWith("Bias")) {
                p.assign(0.0);
            } else {
                boolean residual = name.endsWith(Gpt2Block.ATTN_PROJ) || name.endsWith(Gpt2Block.MLP_PROJ);
                double std = residual ? INIT_STD / Math.sqrt(2.0 * layers) : INIT_STD;
                p.assign(Nd4j.randn(p.dataType(), p.shape()).muli(std));
            }
        }
    }

    @Override
    public int maxPositions() {
        return positions;
    }

    @Override
    public WeightTable weightTable() {
        return Gpt2Weights.table(config());
    }

    @Override
    public Architecture architecture() {
        return Architecture.GPT2;
    }

    @Override
    public int layerCount() {
        return layers;
    }

    @Override
    public long forwardFlopsPerToken() {
        long d = modelWidth;
        long projections = 3 * d * d + d * d + 2 * d * inner;
        long attention = 2L * length * d;
        return layers * (2 * projections + 2 * attention) + 2 * d * vocabSize;
    }

    @Override
    public Gpt2Model withLength(int length) {
        Gpt2Model other = new Gpt2Model(config(), length);
        other.setCompensateDoubledGradient(compensateDoubledGradient);
        return other;
    }

    @Override
    public boolean equals(Object other) {
        return super.equals(other) && config().equals(((Gpt2Model) other).config());
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + Objects.hashCode(config());
    }

    public int getLayers() {
        return layers;
    }

    public void setLayers(int layers) {
        this.layers = layers;
    }

    public int getHeads() {
        return heads;
    }

    public void setHeads(int heads) {
        this.heads = heads;
    }

    public int getInner() {
        return inner;
    }

    public void setInner(int inner) {
        this.inner = inner;
    }

    public int getPositions() {
        return positions;
    }

    public void setPositions(int positions) {
        this.positions = positions;
    }

    public double getLayerNormEps() {
        return layerNormEps;
    }

    public void setLayerNormEps(double layerNormEps) {
        this.layerNormEps = layerNormEps;
    }
}
