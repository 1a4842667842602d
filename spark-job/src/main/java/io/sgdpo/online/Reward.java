package io.sgdpo.online;

import java.io.Serializable;

/**
 * A score of a completion, the label that turns sampled completions into preference pairs
 * ({@code sgdpo sample-pairs}) and the y-axis of the reward-KL frontier ({@code sgdpo frontier}).
 * Implementations are pure functions of their arguments, so that a sample's reward can be
 * recomputed from {@code samples.jsonl}. {@link Rewards#fromConfig} picks one by
 * {@code reward.type}.
 */
public interface Reward extends Serializable {

    /**
     * @param prompt     the prompt text as given
     * @param completion the sampled continuation's text (without the prompt)
     */
    double score(String prompt, String completion);

    /** One line saying what the reward is, for manifests and reports. */
    String describe();
}
