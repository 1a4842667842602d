package io.sgdpo.pipeline;

import org.apache.hadoop.fs.Path;

/**
 * One evaluated policy (the reference or a trained run), as the demo's table and the study's
 * report show it: {@code sgdpo eval}'s metrics, and the gold exact match apart on the prompts whose
 * answer carries where the data set has gold answers.
 */
public record Outcome(String policy, Path evalDir, int evalPairs, double rewardAccuracy, double rewardMargin,
                      double chosenReward, double rejectedReward, double logpsChosen, double logpsRejected,
                      Double goldExactMatch, int goldPrompts, Double carryingExactMatch, Double otherExactMatch) {
}
