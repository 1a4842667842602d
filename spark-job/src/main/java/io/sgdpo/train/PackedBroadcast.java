package io.sgdpo.train;

import java.io.Serializable;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.spark.api.worker.NetBroadcastTuple;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * DL4J's ParameterAveraging broadcast (configuration, parameters, optimizer state) that
 * Java-serializes its arrays packed ({@link PackedArray}) and reads back as DL4J's own tuple: what
 * a round of {@link ReusingParameterAveragingMaster} sends to executors in other JVMs.
 */
public final class PackedBroadcast extends NetBroadcastTuple {
    private static final long serialVersionUID = 1L;

    public PackedBroadcast(ComputationGraphConfiguration configuration, INDArray parameters, INDArray updaterState) {
        super(configuration, parameters, updaterState);
    }

    private Object writeReplace() {
        return new Packed(getGraphConfiguration(), PackedArray.of(getParameters()), PackedArray.of(getUpdaterState()));
    }

    /** What goes on the wire. */
    private record Packed(ComputationGraphConfiguration configuration, PackedArray parameters,
                          PackedArray updaterState) implements Serializable {
        private Object readResolve() {
            return new NetBroadcastTuple(configuration, parameters.unpack(),
                    updaterState == null ? null : updaterState.unpack());
        }
    }
}
