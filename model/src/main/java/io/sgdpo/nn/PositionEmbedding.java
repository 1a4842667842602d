package io.sgdpo.nn;

import java.util.Map;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Adds a learned embedding of each position 0..T-1 to the token embeddings {@code [mb, d, T]};
 * DL4J runs it as {@link Impl}, its passes written out.
 */
public class PositionEmbedding extends CompensatedSameDiffLayer {

    private static final long serialVersionUID = 1L;

    private PositionEmbedding() {
        // for JSON deserialisation
    }

    public PositionEmbedding(int dModel, int length) {
        super(dModel, length);
    }

    @Override
    protected SDVariable defineBody(SameDiff sd, SDVariable input, Map<String, SDVariable> params) {
        return input.add(params.get("wpos"));
    }

    @Override
    public void defineParameters(SDLayerParams params) {
        params.addWeightParam("wpos", 1, modelWidth, length);
    }

    @Override
    public void initializeParameters(Map<String, INDArray> params) {
        Init.gpt2(params);
    }

    @Override
    protected DirectPasses directPasses(NeuralNetConfiguration conf, DataType networkDataType) {
        return new Impl(conf, networkDataType);
    }

    /**
     * The passes written out ({@link DirectPasses}): each example's rows {@code [T, d]} plus the
     * positions' embedding laid out as those rows; its gradient the sum over the examples.
     */
    static final class Impl extends DirectPasses {

        private static final long serialVersionUID = 1L;

        Impl(NeuralNetConfiguration conf, DataType dataType) {
            super(conf, dataType);
        }

        @Override
        protected void forward(INDArray rows, INDArray out, ArrayType kept, LayerWorkspaceMgr mgr) {
            int d = ((PositionEmbedding) layerConf()).modelWidth;
            int length = passLength();
            INDArray positions = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, rows.dataType(),
                    new long[] {length, d}, 'c');
            positions.assign(table().get(NDArrayIndex.all(), NDArrayIndex.interval(0, length)).transpose());
            long examples = rows.size(0) / length;
            Nd4j.exec(new AddOp(rows.reshape('c', examples, (long) length * d), positions.reshape('c', 1,
                    (long) length * d), out.reshape('c', examples, (long) length * d)));
        }

        /** The positions' gradient: the first T columns the sums over the examples, the rest 0. */
        @Override
        protected void backward(INDArray dOut, INDArray dIn, Map<String, INDArray> g, LayerWorkspaceMgr mgr) {
            int d = ((PositionEmbedding) layerConf()).modelWidth;
            int length = passLength();
            int built = ((PositionEmbedding) layerConf()).length;
            dIn.assign(dOut);
            INDArray sums = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, dOut.dataType(),
                    new long[] {1, (long) length * d}, 'c');
            columnSums(dOut.reshape('c', dOut.size(0) / length, (long) length * d), sums);
            INDArray gradient = g.get("wpos").reshape('c', d, built);
            if (length < built) {
                gradient.get(NDArrayIndex.all(), NDArrayIndex.interval(length, built)).assign(0);
            }
            gradient.get(NDArrayIndex.all(), NDArrayIndex.interval(0, length))
                    .assign(sums.reshape('c', length, d).transpose());
        }

        /** The learned positions {@code [d, T]} of the layer's length T. */
        private INDArray table() {
            PositionEmbedding conf = (PositionEmbedding) layerConf();
            return getParam("wpos").reshape('c', conf.modelWidth, conf.length);
        }

        @Override
        protected void forgetKept() {
            // nothing: the backward pass needs only the shapes
        }
    }
}
