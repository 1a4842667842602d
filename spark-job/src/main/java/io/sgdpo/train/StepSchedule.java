package io.sgdpo.train;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.samediff.AbstractSameDiffLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.updater.graph.ComputationGraphUpdater;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.schedule.ISchedule;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * The warm-up + cosine {@link LearningRateSchedule} of a run as DL4J's updaters ask for it: once per
 * update, from the iteration count of the model that runs the updater, in every layer. A rate set
 * from the driver between chunks cannot do that: DL4J's {@code setLearningRate} skips the decoder's
 * SameDiff layers (the transformer blocks kept their first rate), SharedTraining's executors keep
 * the configuration of the first fit, and a chunk would train at one rate.
 *
 * <p>The step of an update is {@code offset + stride * (iteration - first)}:
 * <ul>
 *   <li>absolute ({@code first = 0}, stride 1): the iteration count is the global step, as the
 *       single-process loop and ParameterAveraging's workers set it ({@link TrainingMasters});</li>
 *   <li>relative: SharedTraining's executors each count only their own minibatches, from wherever
 *       their parameter server started; {@code first} is the first iteration this JVM trains this
 *       run at ({@code run} names the run), {@code offset} the step the run (or its resume) started
 *       at, and {@code stride} the number of executor models sharing the steps.</li>
 * </ul>
 */
public final class StepSchedule implements ISchedule {

    private static final long serialVersionUID = 1L;
    /** The first iteration each relative run was seen at in this JVM, by run. */
    private static final Map<String, Integer> FIRST_ITERATION = new ConcurrentHashMap<>();

    @JsonProperty
    private final double base;
    @JsonProperty
    private final long warmupSteps;
    @JsonProperty
    private final long totalSteps;
    @JsonProperty
    private final double minFraction;
    @JsonProperty
    private final long offset;
    @JsonProperty
    private final int stride;
    /** Null for an absolute schedule, else the run whose first iteration counts as {@code offset}. */
    @JsonProperty
    private final String run;

    @JsonCreator
    public StepSchedule(@JsonProperty("base") double base, @JsonProperty("warmupSteps") long warmupSteps,
                        @JsonProperty("totalSteps") long totalSteps, @JsonProperty("minFraction") double minFraction,
                        @JsonProperty("offset") long offset, @JsonProperty("stride") int stride,
                        @JsonProperty("run") String run) {
        if (stride < 1) {
            throw new IllegalArgumentException("stride must be >= 1, got " + stride);
        }
        this.base = base;
        this.warmupSteps = warmupSteps;
        this.totalSteps = totalSteps;
        this.minFraction = minFraction;
        this.offset = offset;
        this.stride = stride;
        this.run = run;
    }

    /** The schedule where the iteration count is the global step. */
    public static StepSchedule absolute(LearningRateSchedule s) {
        return new StepSchedule(s.base(), s.warmupSteps(), s.totalSteps(), s.minFraction(), 0, 1, null);
    }

    /**
     * The schedule of models that count only their own updates: the first iteration seen in a JVM
     * is step {@code offset}, and each further iteration {@code stride} steps.
     */
    public static StepSchedule relative(LearningRateSchedule s, long offset, int stride, String run) {
        return new StepSchedule(s.base(), s.warmupSteps(), s.totalSteps(), s.minFraction(), offset, stride, run);
    }

    public LearningRateSchedule steps() {
        return new LearningRateSchedule(base, warmupSteps, totalSteps, minFraction);
    }

    /** The global step an update at this iteration count stands for. */
    public long step(int iteration) {
        if (run == null) {
            return offset + (long) stride * iteration;
        }
        int first = FIRST_ITERATION.computeIfAbsent(run, r -> iteration);
        return offset + (long) stride * Math.max(0, iteration - first);
    }

    @Override
    public double valueAt(int iteration, int epoch) {
        return steps().at(step(iteration));
    }

    @Override
    public StepSchedule clone() {
        return new StepSchedule(base, warmupSteps, totalSteps, minFraction, offset, stride, run);
    }

    /**
     * Sets this schedule as the learning rate of every layer of the graph that has one (DL4J's layers
     * and the SameDiff ones alike), keeping the optimizer state.
     */
    public void installOn(ComputationGraph graph) {
        for (Layer layer : graph.getLayers()) {
            var conf = layer.conf().getLayer();
            if (conf instanceof BaseLayer b) {
                set(b.getIUpdater());
                set(b.getBiasUpdater());
            } else if (conf instanceof AbstractSameDiffLayer s) {
                set(s.getUpdater());
                set(s.getBiasUpdater());
            }
        }
        // The updater blocks group parameters by equal updater settings: rebuild them from the new
        // settings (every layer changed alike, so the blocks and the state's layout stay the same).
        INDArray state = graph.getUpdater().getStateViewArray();
        INDArray kept = state == null ? null : state.dup();
        graph.setUpdater(null);
        ComputationGraphUpdater rebuilt = graph.getUpdater();
        if (kept != null) {
            if (rebuilt.getStateViewArray() == null || rebuilt.getStateViewArray().length() != kept.length()) {
                throw new IllegalStateException("the optimizer state changed layout when the learning rate schedule was"
                        + " set");
            }
            rebuilt.setStateViewArray(kept);
        }
    }

    private void set(IUpdater updater) {
        if (updater != null && updater.hasLearningRate()) {
            updater.setLrAndSchedule(Double.NaN, this);
        }
    }

    @Override
    public String toString() {
        return "StepSchedule(" + steps() + (run == null ? ", step = iteration" : ", step = " + offset + " + "
                + stride + " x iterations of run " + run) + ")";
    }
}
