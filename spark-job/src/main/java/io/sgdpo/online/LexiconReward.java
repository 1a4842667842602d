package io.sgdpo.online;

import io.sgdpo.config.ConfigurationException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A weighted word list: the completion's reward is the sum of the weights of its words divided by
 * its number of words (0 for a completion without words). Words are maximal runs of letters and
 * apostrophes, lower-cased ({@link Rewards#words}); a word not in the list weighs 0.
 *
 * <p>File format: one {@code word weight} per line (whitespace between), the word in lower-case
 * letters and apostrophes, the weight a finite number; blank lines and lines starting with
 * {@code #} are skipped; a word listed twice is an error.
 */
public final class LexiconReward implements Reward {
    private static final long serialVersionUID = 1L;

    private final String source;
    private final Map<String, Double> weights;

    private LexiconReward(String source, Map<String, Double> weights) {
        this.source = source;
        this.weights = weights;
    }

    /**
     * Parses a word list.
     *
     * @param source the file's name, for messages
     * @param lines  its lines
     * @throws ConfigurationException naming the file and the line of the first bad entry
     */
    public static LexiconReward parse(String source, List<String> lines) {
        Map<String, Double> weights = new LinkedHashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String where = source + ":" + (i + 1) + ": ";
            String[] fields = line.split("\\s+");
            if (fields.length != 2) {
                throw new ConfigurationException(where + "expected 'word weight', got '" + line + "'");
            }
            String word = fields[0];
            if (!word.matches(Rewards.WORD)) {
                throw new ConfigurationException(where + "'" + word + "' is not a word of lower-case letters and"
                        + " apostrophes");
            }
            double weight;
            try {
                weight = Double.parseDouble(fields[1]);
            } catch (NumberFormatException e) {
                throw new ConfigurationException(where + "the weight of '" + word + "' is not a number: '"
                        + fields[1] + "'");
            }
            if (!Double.isFinite(weight)) {
                throw new ConfigurationException(where + "the weight of '" + word + "' must be finite, got " + weight);
            }
            if (weights.put(word, weight) != null) {
                throw new ConfigurationException(where + "'" + word + "' is listed twice");
            }
        }
        if (weights.isEmpty()) {
            throw new ConfigurationException(source + ": no 'word weight' line");
        }
        return new LexiconReward(source, Collections.unmodifiableMap(weights));
    }

    /** The weight of each listed word. */
    public Map<String, Double> weights() {
        return weights;
    }

    @Override
    public double score(String prompt, String completion) {
        List<String> words = Rewards.words(completion);
        if (words.isEmpty()) {
            return 0;
        }
        double sum = 0;
        for (String w : words) {
            sum += weights.getOrDefault(w, 0.0);
        }
        return sum / words.size();
    }

    @Override
    public String describe() {
        return "lexicon " + source + " (" + weights.size() + " words): sum of word weights / words";
    }
}
