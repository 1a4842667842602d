package io.sgdpo.train;

import io.sgdpo.nn.PairExample;
import java.io.Serializable;
import java.util.List;
import java.util.Optional;
import org.apache.spark.api.java.JavaRDD;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;

/**
 * Fits a decoder on minibatches through one of DL4J's Spark training masters. The one seam between
 * this project and DL4J's Spark training masters, whose Spark modules are no longer developed:
 * replacing them means replacing the implementations of this interface ({@link TrainingMasters}).
 *
 * <p>One step is one update of the model from one minibatch of {@code pairsPerStep} pairs, on every
 * master and any number of executors: ParameterAveraging shares each step's minibatch among its
 * workers and averages their updates into that step's update; SharedTraining's executors each take
 * whole minibatches and every executor applies every update.
 */
public interface DistributedTrainer extends AutoCloseable {

    /** Builds the DataSet of a minibatch's pairs (all of them, or one worker's share), given its index. */
    @FunctionalInterface
    interface Builder extends Serializable {
        DataSet build(long index, List<PairExample> pairs);
    }

    /**
     * One pass over the minibatches, in the order of their indexes; updates {@link #network()}. The
     * minibatch of index {@code i} is trained at global step {@code stepOfIndexZero + i}: whatever
     * the master derives from the step (randomness, the optimizer's iteration count) follows it, so a
     * resumed run repeats the uninterrupted one.
     *
     * @return every pair of the pass as its update's forward pass scored it ({@link UpdateMetrics}),
     *         ordered by (iteration, tag); empty when the network's loss is not a preference loss
     */
    List<UpdateMetrics.ScoredPair> fit(JavaRDD<Minibatches.Batch> minibatches, Builder build, long stepOfIndexZero);

    /**
     * {@link #fit(JavaRDD, Builder, long)} of minibatches already on the driver (a training job's
     * chunk): ParameterAveraging's rounds take them from there, where from an RDD it first brings
     * them to the driver (two Spark jobs per fit).
     */
    List<UpdateMetrics.ScoredPair> fit(List<Minibatches.Batch> minibatches, Builder build, long stepOfIndexZero);

    /** The network, with the parameters and optimizer state of the last fit. */
    ComputationGraph network();

    /** How the steps are shared out, for the progress log. */
    String describe();

    /**
     * Why fits of {@code steps} steps at a time would train this master worse than one process does,
     * or empty when they are fine.
     */
    default Optional<String> warningForFitsOf(long steps) {
        return Optional.empty();
    }

    @Override
    void close();
}
