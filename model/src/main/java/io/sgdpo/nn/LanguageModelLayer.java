package io.sgdpo.nn;

import java.util.Map;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ops.impl.controlflow.compat.StopGradient;

/**
 * A whole decoder language model as ONE DL4J SameDiff layer: token ids {@code [mb, 1, T]} (as
 * floats, like DL4J's embedding layers take them) in, vocabulary logits {@code [mb, V, T]} out.
 * A parameter-free {@code RnnLossLayer} after it applies the project's loss, which then sees the
 * logits exactly as it saw those of the {@link Decoder}'s {@link VocabularyHead}.
 *
 * <p>Why one layer: DL4J cannot share a parameter between two layers, and a head tied to the
 * token embedding (GPT-2, and Llama-family models with {@code tie_word_embeddings}) uses the same
 * matrix at both ends of the network. Inside one SameDiff graph the embedding is one variable used
 * twice, and autodiff adds both gradients. The blocks are small helper classes that add their
 * operations to that graph.
 *
 * <p>Token ids, and two ND4J 1.0.0-M2.1 bugs around them:
 * <ul>
 *   <li>The embedding lookup is a product with the one-hot rows of the ids, {@link #lookup}, not a
 *       gather: the gather's backward pass does not add the gradients of repeated ids (it keeps
 *       one, and not even the right one; {@code EmbeddingGradientTest} pins it). The product costs
 *       as much as the output head. A layer with its passes written out ({@link DirectPasses},
 *       Llama's) looks the rows up and adds each row's gradient to its token's row instead.</li>
 *   <li>DL4J asks SameDiff for the gradient with respect to the layer's input. Through the integer
 *       cast of the ids ND4J's Cast backward fails (no gradient reaches an integer), so the ids
 *       pass a stop-gradient first, and reach the output also through a term that is exactly
 *       zero, {@code 0 * ids}, which gives the input its defined gradient of zeros.</li>
 * </ul>
 */
public abstract class LanguageModelLayer extends CompensatedSameDiffLayer {

    private static final long serialVersionUID = 1L;

    /** Vocabulary size V (rows of the embedding, columns of the logits). */
    protected int vocabSize;

    protected LanguageModelLayer() {
        // for JSON deserialisation
    }

    protected LanguageModelLayer(int vocabSize, int modelWidth, int length) {
        super(modelWidth, length);
        this.vocabSize = vocabSize;
    }

    /**
     * The final (normalised) hidden state of every token, rows {@code [mb*T, d]} ordered (example,
     * position), from the one-hot rows {@code [mb*T, V]} of the token ids in the same order.
     */
    protected abstract SDVariable hiddenStates(SameDiff sd, SDVariable oneHotIds, Map<String, SDVariable> params,
                                               DataType type);

    /** The output projection {@code [V, d]}: the token embedding when tied, else its own parameter. */
    protected abstract SDVariable headWeight(Map<String, SDVariable> params);

    /** Which checkpoint tensor each parameter is, in transformers' layout. */
    public abstract WeightTable weightTable();

    /** Which architecture this layer implements. */
    public abstract Architecture architecture();

    /** Number of transformer blocks. */
    public abstract int layerCount();

    /** Matrix-multiply FLOPs of one forward pass per token (2 per multiply-add). */
    public abstract long forwardFlopsPerToken();

    /** The longest sequence the model handles (its position table, or the positions it was trained for). */
    public abstract int maxPositions();

    /** The same layer built for another sequence length T (its parameters do not depend on T). */
    public abstract LanguageModelLayer withLength(int length);

    @Override
    protected final SDVariable defineBody(SameDiff sd, SDVariable input, Map<String, SDVariable> params) {
        SDVariable ids = input.reshape(-1, 1); // rows ordered (example, position)
        SDVariable frozen = new StopGradient(sd, ids).outputVariable().reshape(-1).castTo(DataType.INT);
        SDVariable oneHot = sd.oneHot(frozen, vocabSize, 1, 1.0, 0.0, input.dataType());
        SDVariable hidden = hiddenStates(sd, oneHot, params, input.dataType()).add(ids.mul(0.0));
        // Every path to the logits passes through the hidden states or the head weight, once: halving
        // their gradients there costs (mb*T + V) * d elements instead of mb*T*V at the logits.
        SDVariable logits = sd.mmul(halfGradient(sd, hidden), halfGradient(sd, headWeight(params)), false, true,
                false); // [mb*T, V]
        return logits.reshape(-1, length, vocabSize).permute(0, 2, 1);
    }

    @Override
    protected final boolean compensatesInside() {
        return true;
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return InputType.recurrent(vocabSize, length);
    }

    public int getVocabSize() {
        return vocabSize;
    }

    public void setVocabSize(int vocabSize) {
        this.vocabSize = vocabSize;
    }

    /** Sizes in the facade's terms. */
    public ModelShape shape() {
        return new ModelShape(architecture(), vocabSize, length, modelWidth, layerCount());
    }

    @Override
    public boolean equals(Object other) {
        return super.equals(other) && vocabSize == ((LanguageModelLayer) other).vocabSize;
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + vocabSize;
    }

    /** Embedding rows {@code [mb*T, d]} of the ids: their one-hot rows times the table {@code [V, d]}. */
    public static SDVariable lookup(SameDiff sd, SDVariable oneHotIds, SDVariable table) {
        return sd.mmul(oneHotIds, table);
    }

    /** {@code x W^T (+ b)}: a linear map with the weight stored {@code [out, in]}, as torch's nn.Linear. */
    public static SDVariable linear(SameDiff sd, SDVariable rows, SDVariable weight, SDVariable bias) {
        SDVariable y = sd.mmul(rows, weight, false, true, false);
        return bias == null ? y : y.add(bias);
    }
}
