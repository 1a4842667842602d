package io.sgdpo.nn.llama;

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
 * A Llama-family decoder (transformers' LlamaForCausalLM; Qwen2, Mistral, SmolLM and TinyLlama
 * share it) as one layer: token embedding, {@link LlamaBlock}s with RMSNorm, rotary positions,
 * grouped-query attention and a SwiGLU MLP, a final RMSNorm, and the output head, tied to the
 * embedding or its own matrix.
 *
 * <p>Parameters: {@code embed [V, d]}, per block i {@code l<i>AttnNorm [1, d]}, {@code l<i>Q
 * [heads*headDim, d]}, {@code l<i>K} and {@code l<i>V [kvHeads*headDim, d]}, with q/k/v biases
 * {@code l<i>QBias}, ... {@code [1, out]} when configured, {@code l<i>O [d, heads*headDim]},
 * {@code l<i>MlpNorm [1, d]}, {@code l<i>Gate} and {@code l<i>Up [ffn, d]}, {@code l<i>Down
 * [d, ffn]}; then {@code norm [1, d]} and, untied, {@code head [V, d]}. Norm gains and biases are
 * registered as DL4J bias parameters, which DL4J's weight decay leaves alone (as the usual AdamW
 * recipe exempts them).
 *
 * <p>DL4J runs the layer as {@link LlamaPasses}: its passes written out, which take any length up to T.
 */
public class LlamaModel extends LanguageModelLayer {

    private static final long serialVersionUID = 1L;
    static final String EMBED = "embed";
    static final String NORM = "norm";
    static final String HEAD = "head";
    private static final double INIT_STD = 0.02;

    private int intermediateSize;
    private int layers;
    private int heads;
    private int kvHeads;
    private int headDim;
    private double rmsNormEps;
    private double ropeTheta;
    private boolean tiedEmbeddings;
    private boolean qkvBias;
    private int maxPositions;

    private LlamaModel() {
        // for JSON deserialisation
    }

    /**
     * @param c      the model's sizes
     * @param length sequence length T the graph is built for, at most {@code c.maxPositions()}
     */
    public LlamaModel(LlamaConfig c, int length) {
        super(c.vocabSize(), c.hiddenSize(), length);
        if (length < 1 || length > c.maxPositions()) {
            throw new IllegalArgumentException("sequence length " + length + " outside 1.." + c.maxPositions()
                    + " (the model's max_position_embeddings)");
        }
        this.intermediateSize = c.intermediateSize();
        this.layers = c.layers();
        this.heads = c.heads();
        this.kvHeads = c.kvHeads();
        this.headDim = c.headDim();
        this.rmsNormEps = c.rmsNormEps();
        this.ropeTheta = c.ropeTheta();
        this.tiedEmbeddings = c.tiedEmbeddings();
        this.qkvBias = c.qkvBias();
        this.maxPositions = c.maxPositions();
    }

    /** The model's sizes. */
    public LlamaConfig config() {
        return new LlamaConfig(vocabSize, modelWidth, intermediateSize, layers, heads, kvHeads, headDim, rmsNormEps,
                ropeTheta, tiedEmbeddings, qkvBias, maxPositions);
    }

    @Override
    protected SDVariable hiddenStates(SameDiff sd, SDVariable oneHotIds, Map<String, SDVariable> p, DataType type) {
        LlamaConfig c = config();
        CausalAttention attention = new CausalAttention(sd, heads, kvHeads, headDim, length, type);
        Rope rope = new Rope(sd, headDim, length, ropeTheta, attention.queryScale(), type);
        SDVariable x = lookup(sd, oneHotIds, p.get(EMBED));
        for (int i = 0; i < layers; i++) {
            x = LlamaBlock.apply(sd, x, p, i, c, rope, attention);
        }
        return LlamaBlock.rmsNorm(sd, x, p.get(NORM), rmsNormEps);
    }

    @Override
    protected DirectPasses directPasses(NeuralNetConfiguration conf, DataType networkDataType) {
        return new LlamaPasses(conf, networkDataType);
    }

    @Override
    protected SDVariable headWeight(Map<String, SDVariable> p) {
        return p.get(tiedEmbeddings ? EMBED : HEAD);
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        int d = modelWidth;
        int q = heads * headDim;
        int kv = kvHeads * headDim;
        params.addWeightParam(EMBED, vocabSize, d);
        for (int i = 0; i < layers; i++) {
            params.addBiasParam(LlamaBlock.param(i, LlamaBlock.ATTN_NORM), 1, d);
            params.addWeightParam(LlamaBlock.param(i, LlamaBlock.Q), q, d);
            params.addWeightParam(LlamaBlock.param(i, LlamaBlock.K), kv, d);
            params.addWeightParam(LlamaBlock.param(i, LlamaBlock.V), kv, d);
            if (qkvBias) {
                params.addBiasParam(LlamaBlock.param(i, LlamaBlock.Q_BIAS), 1, q);
                params.addBiasParam(LlamaBlock.param(i, LlamaBlock.K_BIAS), 1, kv);
                params.addBiasParam(LlamaBlock.param(i, LlamaBlock.V_BIAS), 1, kv);
            }
            params.addWeightParam(LlamaBlock.param(i, LlamaBlock.O), d, q);
            params.addBiasParam(LlamaBlock.param(i, LlamaBlock.MLP_NORM), 1, d);
            params.addWeightParam(LlamaBlock.param(i, LlamaBlock.GATE), intermediateSize, d);
            params.addWeightParam(LlamaBlock.param(i, LlamaBlock.UP), intermediateSize, d);
            params.addWeightParam(LlamaBlock.param(i, LlamaBlock.DOWN), d, intermediateSize);
        }
        params.addBiasParam(NORM, 1, d);
        if (!tiedEmbeddings) {
            params.addWeightParam(HEAD, vocabSize, d);
        }
    }

    /** transformers' initialisation: weights N(0, 0.02), norm gains 1, biases 0. */
    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            String name = e.getKey();
            INDArray p = e.getValue();
            if (name.equals(NORM) || name.endsWith("Norm")) {
                p.assign(1.0);
            } else if (name.endsWith("Bias")) {
                p.assign(0.0);
            } else {
                p.assign(Nd4j.randn(p.dataType(), p.shape()).muli(INIT_STD));
            }
        }
    }

    @Override
    public int maxPositions() {
        return maxPositions;
    }

    @Override
    public WeightTable weightTable() {
        return LlamaWeights.table(config());
    }

    @Override
    public Architecture architecture() {
        return Architecture.LLAMA;
    }

    @Override
    public int layerCount() {
        return layers;
    }

    @Override
    public long forwardFlopsPerToken() {
        long d = modelWidth;
        long q = (long) heads * headDim;
        long kv = (long) kvHeads * headDim;
        long projections = d * q + 2 * d * kv + q * d + 3 * d * intermediateSize;
        long attention = 2L * length * q; // scores and weighted values over T keys
        return layers * (2 * projections + 2 * attention) + 2 * d * vocabSize;
    }

    @Override
    public LlamaModel withLength(int length) {
        LlamaModel other = new LlamaModel(config(), length);
        other.setCompensateDoubledGradient(compensateDoubledGradient);
        return other;
    }

    @Override
    public boolean equals(Object other) {
        return super.equals(other) && config().equals(((LlamaModel) other).config());
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + Objects.hashCode(config());
    }

    public int getIntermediateSize() {
        return intermediateSize;
    }

    public void setIntermediateSize(int intermediateSize) {
        this.intermediateSize = intermediateSize;
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

    public int getKvHeads() {
        return kvHeads;
    }

    public void setKvHeads(int kvHeads) {
        this.kvHeads = kvHeads;
    }

    public int getHeadDim() {
        return headDim;
    }

    public void setHeadDim(int headDim) {
        this.headDim = headDim;
    }

    public double getRmsNormEps() {
        return rmsNormEps;
    }

    public void setRmsNormEps(double rmsNormEps) {
        this.rmsNormEps = rmsNormEps;
    }

    public double getRopeTheta() {
        return ropeTheta;
    }

    public void setRopeTheta(double ropeTheta) {
        this.ropeTheta = ropeTheta;
    }

    public boolean isTiedEmbeddings() {
        return tiedEmbeddings;
    }

    public void setTiedEmbeddings(boolean tiedEmbeddings) {
        this.tiedEmbeddings = tiedEmbeddings;
    }

    public boolean isQkvBias() {
        return qkvBias;
    }

    public void setQkvBias(boolean qkvBias) {
        this.qkvBias = qkvBias;
    }

    public int getMaxPositions() {
        return maxPositions;
    }

    public void setMaxPositions(int maxPositions) {
        this.maxPositions = maxPositions;
    }
}
