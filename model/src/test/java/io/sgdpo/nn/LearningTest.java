package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.loss.PreferenceLoss;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

/**
 * Learning, not just running: a tiny decoder trained in-process with SGDPO on 32 pairs ranks every
 * chosen response above its rejected one. DPO is trained on the same case from the same reference
 * and both reward trajectories are printed.
 */
class LearningTest {

    private static final DecoderConfig CONFIG = new DecoderConfig(16, 16, 1, 2, 12, 0.0, 7);
    private static final int PAIRS = 32;
    private static final int BATCH = 8;
    private static final int STEPS = 160;
    private static final PairedBatch LAYOUT = new PairedBatch(CONFIG.maxLength(), TinyPairs.PAD);
    private static List<PairExample> data;
    private static ComputationGraph reference;

    @BeforeAll
    static void referencePass() {
        reference = Decoder.create(CONFIG, new PairedPreferenceLoss(new LossSpec()), new Adam(1e-3), DataType.FLOAT);
        List<PairExample> raw = TinyPairs.random(PAIRS, CONFIG.vocabSize(), CONFIG.maxLength() - 2, false, 99);
        data = new ArrayList<>();
        for (int from = 0; from < PAIRS; from += BATCH) {
            List<PairExample> slice = raw.subList(from, from + BATCH);
            List<PairLogProbs> ref = SequenceLogProbs.of(reference, LAYOUT, slice);
            for (int i = 0; i < slice.size(); i++) {
                data.add(slice.get(i).withReference(ref.get(i).policyChosen(), ref.get(i).policyRejected()));
            }
        }
    }

    /** Mean chosen reward, mean rejected reward, reward accuracy and minimum margin over all pairs. */
    private static double[] evaluate(ComputationGraph policy, PreferenceLoss loss) {
        double chosen = 0, rejected = 0, correct = 0, minMargin = Double.POSITIVE_INFINITY;
        for (int from = 0; from < PAIRS; from += BATCH) {
            List<PairLogProbs> scored = SequenceLogProbs.of(policy, LAYOUT, data.subList(from, from + BATCH));
            for (PairLogProbs p : scored) {
                double[] r = loss.rewards(p);
                chosen += r[0];
                rejected += r[1];
                correct += r[0] > r[1] ? 1 : 0;
                minMargin = Math.min(minMargin, r[0] - r[1]);
            }
        }
        return new double[] {chosen / PAIRS, rejected / PAIRS, correct / PAIRS, minMargin};
    }

    private static double[] train(String lossName) {
        LossSpec spec = new LossSpec().withName(lossName);
        PreferenceLoss loss = Losses.create(spec);
        ComputationGraph policy = Decoder.create(CONFIG, new PairedPreferenceLoss(spec), new Adam(3e-3), DataType.FLOAT);
        policy.setParams(reference.params().dup());
        double[] start = evaluate(policy, loss);
        assertEquals(0.0, start[0], 1e-4, "the policy starts at the reference: zero rewards");
        System.out.printf("%-6s step   rewards/chosen  rewards/rejected  rewards/accuracies  min margin%n", lossName);
        double[] last = start;
        for (int step = 0; step <= STEPS; step++) {
            if (step % 40 == 0) {
                last = evaluate(policy, loss);
                System.out.printf("%-6s %4d   %14.4f  %16.4f  %18.3f  %10.4f%n", lossName, step, last[0], last[1],
                        last[2], last[3]);
            }
            if (step < STEPS) {
                int from = (step % (PAIRS / BATCH)) * BATCH;
                policy.fit(LAYOUT.build(data.subList(from, from + BATCH), loss, 7, step, DataType.FLOAT));
            }
        }
        return last;
    }

    @Test
    void sgdpoReachesFullRewardAccuracyWithPositiveMarginsAndDpoIsTrackedAlongside() {
        double[] sgdpo = train("sgdpo");
        double[] dpo = train("dpo");
        assertEquals(1.0, sgdpo[2], 0.0, "SGDPO reward accuracy after " + STEPS + " steps");
        assertTrue(sgdpo[3] > 0, "every SGDPO margin positive, min " + sgdpo[3]);
        assertTrue(sgdpo[0] - sgdpo[1] > 0, "mean SGDPO margin positive");
        assertTrue(dpo[2] > 0.5, "DPO on the same case learns too: accuracy " + dpo[2]);
    }
}
