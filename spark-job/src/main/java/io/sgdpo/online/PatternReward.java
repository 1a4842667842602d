package io.sgdpo.online;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A length/regex reward: {@code weight} per match of a regular expression in the completion plus
 * {@code lengthWeight} per word of it ({@link Rewards#words}). With an empty regex only the length
 * counts; a negative length weight rewards brevity.
 */
public final class PatternReward implements Reward {
    private static final long serialVersionUID = 1L;

    private final Pattern pattern;
    private final double weight;
    private final double lengthWeight;

    /**
     * @param regex        a Java regular expression, or "" for none
     * @param weight       reward per (non-overlapping) match
     * @param lengthWeight reward per word
     */
    public PatternReward(String regex, double weight, double lengthWeight) {
        this.pattern = regex.isEmpty() ? null : Pattern.compile(regex);
        this.weight = weight;
        this.lengthWeight = lengthWeight;
    }

    @Override
    public double score(String prompt, String completion) {
        int matches = 0;
        if (pattern != null) {
            Matcher m = pattern.matcher(completion);
            while (m.find()) {
                matches++;
            }
        }
        return weight * matches + lengthWeight * Rewards.words(completion).size();
    }

    @Override
    public String describe() {
        return "pattern: " + weight + " x matches of /" + (pattern == null ? "" : pattern.pattern()) + "/ + "
                + lengthWeight + " x words";
    }
}
