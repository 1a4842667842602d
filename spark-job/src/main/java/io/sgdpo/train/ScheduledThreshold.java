package io.sgdpo.train;

import org.deeplearning4j.optimize.solvers.accumulation.encoding.ThresholdAlgorithm;
import org.deeplearning4j.optimize.solvers.accumulation.encoding.ThresholdAlgorithmReducer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.schedule.ISchedule;

/**
 * SharedTraining's encoding threshold, equal to the learning rate of the update being shared.
 *
 * <p>DL4J shares each executor's update (Adam's step, learning rate included) as +-threshold for
 * every parameter whose update plus residual reaches the threshold, once per iteration; the rest
 * waits in a residual that is clipped to 5 thresholds every 5 iterations and dropped at the end of
 * every fit. Adam moves a parameter by up to about the learning rate per step, so a threshold at the
 * learning rate sends each step's update within a step and bounds what a fit's end drops to one
 * step's worth. A larger threshold (DL4J's adaptive default starts at 1e-3 and rises until at most
 * 1% of the parameters are sent) holds most of Adam's steps back until the residual is clipped or
 * dropped; a smaller one caps every parameter's move below the learning rate.
 */
final class ScheduledThreshold implements ThresholdAlgorithm {

    private static final long serialVersionUID = 1L;

    private final ISchedule learningRate;

    ScheduledThreshold(ISchedule learningRate) {
        this.learningRate = learningRate;
    }

    @Override
    public double calculateThreshold(int iteration, int epoch, Double lastThreshold, Boolean lastWasDense,
                                     Double lastSparsityRatio, INDArray updatesPlusResidual) {
        return learningRate.valueAt(iteration, epoch);
    }

    @Override
    public ThresholdAlgorithmReducer newReducer() {
        return new Reducer(this);
    }

    @Override
    public ScheduledThreshold clone() {
        return new ScheduledThreshold(learningRate.clone());
    }

    @Override
    public String toString() {
        return "ScheduledThreshold(" + learningRate + ")";
    }

    /** Stateless: the aggregate of the executors' instances is this one. */
    private record Reducer(ScheduledThreshold instance) implements ThresholdAlgorithmReducer {

        @Override
        public void add(ThresholdAlgorithm other) {
        }

        @Override
        public ThresholdAlgorithmReducer merge(ThresholdAlgorithmReducer other) {
            return this;
        }

        @Override
        public ThresholdAlgorithm getFinalResult() {
            return instance;
        }
    }
}
