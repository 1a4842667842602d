package io.sgdpo.train;

import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.nn.PairedPreferenceLoss;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.util.TaskCompletionListener;
import org.apache.spark.util.CollectionAccumulator;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnLossLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * The per-pair log-probs of the updates' own forward passes, gathered on the driver: a training
 * listener on every worker's network takes, after each update, the minibatch its
 * {@link PairedPreferenceLoss} took the gradient of, and adds its pairs to a Spark accumulator,
 * which Spark merges into the driver's copy as each task ends. So the train metrics of a step are
 * those of the pairs that step trained on, scored by the parameters the step started from (what
 * TRL logs), at no cost of a forward pass.
 *
 * <p>The listener is serialised with the training master's worker into every task, and Spark
 * registers the accumulator copy each task deserialises with that task; only that task's copy
 * reaches the driver. ParameterAveraging builds a network per task with that task's listener.
 * SharedTraining fits the network of its first fit in the JVM on every later fit, listener
 * included, on the thread of one task of the current fit: so the listener adds to the copy the
 * current task on its thread deserialised, not to its own. Networks whose loss is not a
 * {@link PairedPreferenceLoss} (SFT) add nothing.
 */
public final class UpdateMetrics {

    /**
     * One pair as an update's forward pass scored it.
     *
     * @param iteration the iteration count of the network that took the update: on ParameterAveraging
     *                  the global step; on SharedTraining the updates that executor's network has applied
     *                  itself (0 for its first update of a run)
     * @param tag       the pair's tag ({@link io.sgdpo.nn.PairedLabels#tagOf})
     * @param pair      its log-probs
     */
    public record ScoredPair(long iteration, int tag, PairLogProbs pair) implements Serializable {
        private static final long serialVersionUID = 1L;
    }

    private final CollectionAccumulator<ScoredPair> sink;

    UpdateMetrics(JavaSparkContext sc) {
        this.sink = sc.sc().collectionAccumulator("update metrics");
    }

    /** The listener to set on the master, which carries the accumulator to the workers. */
    Listener listener() {
        return new Listener(sink);
    }

    /** Forgets what was gathered, before a fit. */
    void reset() {
        sink.reset();
    }

    /**
     * What the updates since {@link #reset()} scored, ordered by (iteration, tag): the order tasks
     * finish in does not decide it, so metrics summed over it round the same way on a replay.
     */
    List<ScoredPair> gathered() {
        List<ScoredPair> all = new ArrayList<>(sink.value());
        all.sort(Comparator.comparingLong(ScoredPair::iteration).thenComparingInt(ScoredPair::tag));
        return all;
    }

    /** Moves the minibatch of each update from the network's preference loss into the accumulator. */
    static final class Listener extends BaseTrainingListener implements Serializable {
        private static final long serialVersionUID = 1L;
        /** The accumulator copy the task running on this thread deserialised (registered with it). */
        private static final ThreadLocal<CollectionAccumulator<ScoredPair>> TASK_COPY = new ThreadLocal<>();
        private final CollectionAccumulator<ScoredPair> sink;

        Listener(CollectionAccumulator<ScoredPair> sink) {
            this.sink = sink;
        }

        private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
            in.defaultReadObject();
            TaskContext task = TaskContext.get();
            if (task != null) {
                TASK_COPY.set(sink);
                task.addTaskCompletionListener((TaskCompletionListener) t -> TASK_COPY.remove());
            }
        }

        /** This task's copy of the run's accumulator, or the listener's own outside a task. */
        private CollectionAccumulator<ScoredPair> target() {
            CollectionAccumulator<ScoredPair> copy = TASK_COPY.get();
            return copy != null && copy.id() == sink.id() ? copy : sink;
        }

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            PairedPreferenceLoss loss = preferenceLoss(model);
            PairedPreferenceLoss.FittedMinibatch fitted = loss == null ? null : loss.takeFitted();
            if (fitted == null) {
                return;
            }
            CollectionAccumulator<ScoredPair> target = target();
            for (int i = 0; i < fitted.tags().length; i++) {
                target.add(new ScoredPair(iteration, fitted.tags()[i], fitted.pairs().get(i)));
            }
        }

        private static PairedPreferenceLoss preferenceLoss(Model model) {
            if (!(model instanceof ComputationGraph graph)) {
                return null;
            }
            for (Layer layer : graph.getLayers()) {
                // the decoder's output layer is an RnnOutputLayer, llama's and gpt2's an RnnLossLayer
                Object conf = layer.conf().getLayer();
                ILossFunction loss = conf instanceof BaseOutputLayer o ? o.getLossFn()
                        : conf instanceof RnnLossLayer o ? o.getLossFn() : null;
                if (loss instanceof PairedPreferenceLoss paired) {
                    return paired;
                }
            }
            return null;
        }
    }
}
