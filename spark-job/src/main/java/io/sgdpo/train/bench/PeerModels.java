package io.sgdpo.train.bench;

import com.typesafe.config.Config;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.Optimization;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Builds the project's model of a {@link PeerShape}. The gpt architecture is this project's
 * {@link Decoder}; any other goes through {@code io.sgdpo.nn.LanguageModels.create(Config model,
 * int vocab, ILossFunction, Optimization, DataType)} with {@code model.architecture} set, looked up
 * at run time so that the benchmark measures a new architecture as soon as that factory is on the
 * classpath, and reports the shape as not yet measured until then.
 */
public final class PeerModels {

    /** The factory of every architecture beyond the GPT decoder. */
    static final String FACTORY = "io.sgdpo.nn.LanguageModels";

    private PeerModels() {
    }

    /** Why the project cannot build this shape yet, or null when it can. */
    public static String unavailable(PeerShape shape) {
        if (shape.architecture().equals("gpt")) {
            return null;
        }
        try {
            factory();
            return null;
        } catch (ReflectiveOperationException e) {
            return "not yet measured: the project has no " + shape.architecture() + " model in this build ("
                    + FACTORY + ".create(Config, int, ILossFunction, Optimization, DataType) is missing)";
        }
    }

    /** A freshly initialised float32 model of the shape with the given output loss and optimizer. */
    public static ComputationGraph create(PeerShape shape, ILossFunction loss, Optimization optimization) {
        if (shape.architecture().equals("gpt")) {
            DecoderConfig c = new DecoderConfig(shape.vocab(), shape.dModel(), shape.layers(), shape.heads(),
                    shape.length(), 0.0, 42);
            ComputationGraph graph = new ComputationGraph(Decoder.configuration(c, loss, optimization,
                    DataType.FLOAT));
            graph.init();
            return graph;
        }
        try {
            Object model = factory().invoke(null, shape.modelBlock(), shape.vocab(), loss, optimization,
                    DataType.FLOAT);
            if (!(model instanceof ComputationGraph graph)) {
                throw new IllegalStateException(FACTORY + ".create returned " + (model == null ? "null"
                        : model.getClass().getName()) + ", not a ComputationGraph");
            }
            return graph;
        } catch (InvocationTargetException e) {
            throw new IllegalStateException(FACTORY + ".create failed for " + shape.describe() + ": "
                    + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(unavailable(shape), e);
        }
    }

    private static Method factory() throws ReflectiveOperationException {
        return Class.forName(FACTORY).getMethod("create", Config.class, int.class, ILossFunction.class,
                Optimization.class, DataType.class);
    }
}
