package io.sgdpo.bench.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.nn.ResponseTokenLoss;
import io.sgdpo.nn.VocabularyHead;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Where the time of a figure goes, measured two ways in the worker's own JVM while the timed
 * repeats run:
 * <ul>
 *   <li><b>phases</b> of a training step, from DL4J's listener callbacks and a timed wrapper around
 *       the output loss: forward through every layer but the output layer; backward (the output
 *       layer's logits, the loss gradient, backprop through every layer) and DL4J's score (the
 *       output layer's logits once more and the loss value); the updater (Adam) and the parameter
 *       step. The loss wrapper splits out the per-token read-out inside the loss calls.</li>
 *   <li><b>samples</b> of the measuring thread's stack every few milliseconds, each filed under the
 *       phase and layer it is in and whether the top frame is native (a kernel of ND4J or its BLAS)
 *       or Java (SameDiff's per-op bookkeeping, DL4J, the project's own loops).</li>
 * </ul>
 * Only one profile runs per JVM: the counters are static, because DL4J clones the loss with the
 * configuration.
 */
public final class StepProfile {

    private static final LongAdder LOSS_GRADIENT_NANOS = new LongAdder();
    private static final LongAdder LOSS_SCORE_NANOS = new LongAdder();
    private static final LongAdder LOSS_CALLS = new LongAdder();
    private static volatile boolean timing;

    private final Thread target = Thread.currentThread();
    private final Map<String, Long> phaseNanos = new LinkedHashMap<>();
    private final Map<String, Integer> samples = new HashMap<>();
    private final Map<String, Integer> leaves = new HashMap<>();
    private int sampleCount;
    private long stepStart;
    private long forwardDone;
    private long backwardDone;
    private int steps;
    private volatile boolean sampling;
    private Thread sampler;

    /**
     * The loss wrapped so that its calls are timed; a {@link ResponseTokenLoss} stays one, so that the
     * head computes what it computes unprofiled (the response tokens' rows only).
     */
    public ILossFunction timedLoss(ILossFunction loss) {
        return loss instanceof ResponseTokenLoss responseRows ? new TimedResponseTokenLoss(responseRows)
                : new TimedLoss(loss);
    }

    /** Adds the listener that timestamps the phases of every training step. */
    public void attach(ComputationGraph graph) {
        graph.addListeners(new BaseTrainingListener() {
            @Override
            public void onForwardPass(Model model, Map<String, INDArray> activations) {
                forwardDone = System.nanoTime();
            }

            @Override
            public void onBackwardPass(Model model) {
                backwardDone = System.nanoTime();
            }

            @Override
            public void iterationDone(Model model, int iteration, int epoch) {
                if (timing && stepStart != 0) {
                    long end = System.nanoTime();
                    add("forward (embedding, blocks, final norm; output layer excluded)", forwardDone - stepStart);
                    add("backward and score (output logits twice, loss, backprop of every layer)",
                            backwardDone - forwardDone);
                    add("updater and parameter step (Adam)", end - backwardDone);
                    steps++;
                }
            }
        });
    }

    /**
     * Times every op that the graph's SameDiff layers (the whole body of an imported Llama or GPT-2
     * model) execute, by op name, through a SameDiff listener on each layer's SameDiff instance (which
     * DL4J copies onto the gradient function, so that backward ops are timed too). The decoder's
     * position embedding, blocks and final norm run their passes without SameDiff: their ops show in
     * the stack samples. Call after the warm-up: DL4J builds those instances at the first forward
     * pass.
     */
    public void timeSameDiffOps(ComputationGraph graph) {
        try {
            java.lang.reflect.Field field = org.deeplearning4j.nn.layers.samediff.SameDiffLayer.class
                    .getDeclaredField("sameDiff");
            field.setAccessible(true);
            for (org.deeplearning4j.nn.api.Layer layer : graph.getLayers()) {
                if (layer instanceof org.deeplearning4j.nn.layers.samediff.SameDiffLayer l) {
                    org.nd4j.autodiff.samediff.SameDiff sd = (org.nd4j.autodiff.samediff.SameDiff) field.get(l);
                    if (sd != null) {
                        sd.addListeners(opTimer);
                    }
                }
            }
        } catch (ReflectiveOperationException | RuntimeException e) {
            opTimerError = e.toString();
        }
    }

    private String opTimerError;
    private final Map<String, long[]> opNanos = new HashMap<>();
    private final org.nd4j.autodiff.listeners.BaseListener opTimer = new org.nd4j.autodiff.listeners.BaseListener() {
        private long opStart;

        @Override
        public boolean isActive(org.nd4j.autodiff.listeners.Operation operation) {
            return true;
        }

        @Override
        public void preOpExecution(org.nd4j.autodiff.samediff.SameDiff sd, org.nd4j.autodiff.listeners.At at,
                                   org.nd4j.autodiff.samediff.internal.SameDiffOp op,
                                   org.nd4j.linalg.api.ops.OpContext opContext) {
            opStart = System.nanoTime();
        }

        @Override
        public void opExecution(org.nd4j.autodiff.samediff.SameDiff sd, org.nd4j.autodiff.listeners.At at,
                                org.nd4j.linalg.dataset.api.MultiDataSet batch,
                                org.nd4j.autodiff.samediff.internal.SameDiffOp op,
                                org.nd4j.linalg.api.ops.OpContext opContext, INDArray[] outputs) {
            if (timing) {
                long[] t = opNanos.computeIfAbsent(op.getOp().opName(), k -> new long[2]);
                t[0] += System.nanoTime() - opStart;
                t[1]++;
            }
        }
    };

    /** Marks the start of a training step (called right before {@code fit}). */
    public void stepStart() {
        stepStart = System.nanoTime();
    }

    private void add(String phase, long nanos) {
        phaseNanos.merge(phase, nanos, Long::sum);
    }

    /** Starts timing and stack sampling (after the warm-up). */
    public void start() {
        LOSS_GRADIENT_NANOS.reset();
        LOSS_SCORE_NANOS.reset();
        LOSS_CALLS.reset();
        timing = true;
        sampling = true;
        sampler = new Thread(() -> {
            while (sampling) {
                StackTraceElement[] stack = target.getStackTrace();
                if (stack.length > 0) {
                    record(stack);
                }
                try {
                    Thread.sleep(3);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "step-profile-sampler");
        sampler.setDaemon(true);
        sampler.start();
    }

    /** Stops timing and sampling. */
    public void stop() {
        timing = false;
        sampling = false;
        try {
            sampler.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private synchronized void record(StackTraceElement[] stack) {
        sampleCount++;
        String category = classify(stack);
        samples.merge(category, 1, Integer::sum);
        leaves.merge(leaf(stack), 1, Integer::sum);
    }

    /** "phase / layer / native|java" of one stack sample (top frame first). */
    static String classify(StackTraceElement[] stack) {
        String phase = "other";
        String layer = "";
        for (int i = stack.length - 1; i >= 0; i--) { // outermost first: the innermost match wins
            String c = stack[i].getClassName();
            String m = stack[i].getMethodName();
            if (m.equals("ffToLayerActivationsInWS") || m.equals("outputOfLayersDetached")
                    || (c.endsWith("ComputationGraph") && m.equals("output"))) {
                phase = "forward";
            } else if (m.equals("calcBackpropGradients")) {
                phase = "backward";
            } else if (c.endsWith("BaseOutputLayer") && m.equals("computeScore")) {
                phase = "score (output logits again + loss value)";
            } else if (m.equals("updateGradientAccordingToParams") || c.contains(".updater.")) {
                phase = "updater";
            } else if (c.contains("StepFunction")) {
                phase = "parameter step";
            } else if (c.startsWith("io.sgdpo.nn.") && (c.contains("Loss") || c.contains("View")
                    || c.contains("TokenLogProbs"))) {
                phase = phase.equals("other") ? "log-prob read-out" : phase;
                layer = "loss read-out";
            } else if (c.endsWith("SequenceLogProbs") || c.endsWith("PairedBatch")) {
                phase = phase.equals("other") ? "batch and read-out" : phase;
            } else if (c.endsWith("Generator")) {
                phase = phase.equals("other") ? "generation (outside the forward)" : phase;
            }
            if (!layer.equals("loss read-out")) {
                // every written-out pass runs under DirectPasses' activate or backpropGradient
                if (c.equals("io.sgdpo.nn.DirectPasses")) {
                    layer = "position embedding, blocks and final norm (passes written out)";
                } else if (c.endsWith("SameDiffLayer") || c.contains(".samediff.")) {
                    layer = "SameDiff layers (an imported model's body)";
                } else if (c.endsWith("RnnOutputLayer") || c.endsWith("BaseOutputLayer")
                        || c.startsWith(VocabularyHead.class.getName())) {
                    layer = "output layer (vocabulary logits)";
                } else if (c.endsWith("EmbeddingSequenceLayer")) {
                    layer = "token embedding";
                }
            }
        }
        String kind = stack[0].isNativeMethod() ? "native" : "java";
        return phase + (layer.isEmpty() ? "" : " / " + layer) + " / " + kind;
    }

    /**
     * The top frame when it is native, the innermost frame of ND4J, DL4J or this project, and the
     * innermost frame of DL4J or this project outside ND4J (who asked for it), e.g.
     * "Nd4jCpu.allocateDataBuffer <- OpaqueDataBuffer.allocateDataBuffer <- TokenLogProbs.logSumExp".
     */
    private static String leaf(StackTraceElement[] stack) {
        StringBuilder s = new StringBuilder(stack[0].isNativeMethod() ? shortName(stack[0]) + " <- " : "");
        int i = 0;
        for (; i < stack.length; i++) {
            String c = stack[i].getClassName();
            if ((c.startsWith("org.nd4j") || c.startsWith("org.deeplearning4j") || c.startsWith("io.sgdpo"))
                    && !c.contains("NativeOps") && !c.contains("Nd4jCpu")) {
                s.append(shortName(stack[i]));
                break;
            }
        }
        for (int j = i + 1; j < stack.length; j++) {
            String c = stack[j].getClassName();
            if (c.startsWith("io.sgdpo") || (c.startsWith("org.deeplearning4j") && !c.contains(".samediff."))) {
                s.append(" <- ").append(shortName(stack[j]));
                break;
            }
        }
        return s.length() == 0 ? shortName(stack[0]) : s.toString();
    }

    private static String shortName(StackTraceElement e) {
        String c = e.getClassName();
        return c.substring(c.lastIndexOf('.') + 1) + "." + e.getMethodName();
    }

    /** The profile as JSON: seconds per phase and step, sample shares, the hottest frames. */
    public synchronized JsonNode report(double[] repeatSeconds, int stepsPerRepeat) {
        ObjectNode r = JsonNodeFactory.instance.objectNode();
        double total = 0;
        for (double s : repeatSeconds) {
            total += s;
        }
        int units = repeatSeconds.length * stepsPerRepeat;
        r.put("timedSeconds", total);
        r.put("stepsTimed", units);
        if (steps > 0) {
            ObjectNode phases = r.putObject("phaseSecondsPerStep");
            phaseNanos.forEach((k, v) -> phases.put(k, v / 1e9 / steps));
            phases.put("loss gradient calls (inside backward)", LOSS_GRADIENT_NANOS.sum() / 1e9 / steps);
            phases.put("loss score calls (inside score)", LOSS_SCORE_NANOS.sum() / 1e9 / steps);
            r.put("lossCallsPerStep", LOSS_CALLS.sum() / (double) steps);
        }
        if (!opNanos.isEmpty() || opTimerError != null) {
            ObjectNode ops = r.putObject("sameDiffOpsPerUnit");
            double unitsDone = Math.max(1, steps > 0 ? steps : units);
            List<Map.Entry<String, long[]>> byTime = new ArrayList<>(opNanos.entrySet());
            byTime.sort((a, b) -> Long.compare(b.getValue()[0], a.getValue()[0]));
            long sum = 0;
            for (Map.Entry<String, long[]> e : byTime) {
                sum += e.getValue()[0];
                ops.putObject(e.getKey()).put("seconds", e.getValue()[0] / 1e9 / unitsDone)
                        .put("calls", e.getValue()[1] / unitsDone);
            }
            r.put("sameDiffOpSecondsPerUnit", sum / 1e9 / unitsDone);
            if (opTimerError != null) {
                r.put("sameDiffOpTimerError", opTimerError);
            }
        }
        r.put("samples", sampleCount);
        ObjectNode shares = r.putObject("sampleShare");
        sorted(samples).forEach(e -> shares.put(e.getKey(), Math.round(1000.0 * e.getValue() / sampleCount) / 1000.0));
        ObjectNode hot = r.putObject("hottestFrames");
        List<Map.Entry<String, Integer>> top = sorted(leaves);
        for (int i = 0; i < Math.min(20, top.size()); i++) {
            hot.put(top.get(i).getKey(), Math.round(1000.0 * top.get(i).getValue() / sampleCount) / 1000.0);
        }
        return r;
    }

    private static List<Map.Entry<String, Integer>> sorted(Map<String, Integer> counts) {
        List<Map.Entry<String, Integer>> list = new ArrayList<>(counts.entrySet());
        list.sort((a, b) -> Integer.compare(b.getValue(), a.getValue()));
        return list;
    }

    /** A {@link TimedLoss} of a {@link ResponseTokenLoss}. */
    public static final class TimedResponseTokenLoss extends TimedLoss implements ResponseTokenLoss {

        private static final long serialVersionUID = 1L;

        private TimedResponseTokenLoss() {
            // for JSON deserialisation
        }

        TimedResponseTokenLoss(ResponseTokenLoss loss) {
            super(loss);
        }
    }

    /** A loss that times its calls into the profile's counters; the values are the wrapped loss's. */
    public static class TimedLoss implements ILossFunction {

        private static final long serialVersionUID = 1L;
        private ILossFunction loss;

        TimedLoss() {
            // for JSON deserialisation
        }

        TimedLoss(ILossFunction loss) {
            this.loss = loss;
        }

        public ILossFunction getLoss() {
            return loss;
        }

        public void setLoss(ILossFunction loss) {
            this.loss = loss;
        }

        private static void count(LongAdder adder, long start) {
            if (timing) {
                adder.add(System.nanoTime() - start);
                LOSS_CALLS.increment();
            }
        }

        @Override
        public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                                   boolean average) {
            long t = System.nanoTime();
            double s = loss.computeScore(labels, preOutput, activationFn, mask, average);
            count(LOSS_SCORE_NANOS, t);
            return s;
        }

        @Override
        public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn,
                                          INDArray mask) {
            long t = System.nanoTime();
            INDArray s = loss.computeScoreArray(labels, preOutput, activationFn, mask);
            count(LOSS_SCORE_NANOS, t);
            return s;
        }

        @Override
        public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn,
                                        INDArray mask) {
            long t = System.nanoTime();
            INDArray g = loss.computeGradient(labels, preOutput, activationFn, mask);
            count(LOSS_GRADIENT_NANOS, t);
            return g;
        }

        @Override
        public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput,
                                                              IActivation activationFn, INDArray mask,
                                                              boolean average) {
            long t = System.nanoTime();
            Pair<Double, INDArray> p = loss.computeGradientAndScore(labels, preOutput, activationFn, mask, average);
            count(LOSS_GRADIENT_NANOS, t);
            return p;
        }

        @Override
        public String name() {
            return "timed-" + loss.name();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof TimedLoss t && loss.equals(t.loss);
        }

        @Override
        public int hashCode() {
            return 31 * loss.hashCode();
        }
    }
}
