package io.sgdpo.train;

import org.apache.spark.api.java.JavaRDD;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Fits a decoder on an RDD of whole minibatches. The one seam between this project and DL4J's
 * Spark training masters, whose Spark modules are no longer developed: replacing them means
 * replacing the implementation of this interface.
 */
public interface DistributedTrainer extends AutoCloseable {

    /**
     * One pass over the minibatches (each element one whole minibatch); updates {@link #network()}.
     * {@code step} is the global step of the first minibatch: whatever randomness the master uses
     * is derived from it, so a resumed run repeats the uninterrupted one.
     */
    void fit(JavaRDD<DataSet> minibatches, long step);

    /** The network, with the parameters and optimizer state of the last fit. */
    ComputationGraph network();

    @Override
    void close();
}
