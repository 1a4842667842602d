package io.sgdpo.bench.prep;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The figures of one benchmark variant over its timed repeats: each figure's value in every repeat,
 * and its median, minimum and maximum.
 *
 * <p>Every benchmark writes its variants through this class, in the same layout, so that
 * {@code sgdpo bench-report} can summarise any of them without knowing what they measure:
 *
 * <pre>
 * "figures": {"seconds": "what it is", "pairsPerSecond": "what it is"},      (top level, {@link #describe})
 * "ratioFigure": "pairsPerSecond",
 * "ratioDefinitions": [{"name": "local[2]/local[1]", "numerator": "spark local[2]", "denominator": "spark local[1]"}],
 * "results": [{"variant": "spark local[1]",
 *              "perRepeat": {"seconds": [..], "pairsPerSecond": [..]},    ({@link #writeTo})
 *              "summary": {"seconds": {"median": .., "min": .., "max": ..}, ...}, ...}]
 * </pre>
 */
public final class RepeatFigures {

    /** Top-level key: figure name to a one-line description. */
    public static final String FIGURES = "figures";
    /** Top-level key: the figure (higher = faster) whose medians the ratios divide. */
    public static final String RATIO_FIGURE = "ratioFigure";
    /** Top-level key: the ratios, as {@code name}, {@code numerator} and {@code denominator} variant names. */
    public static final String RATIO_DEFINITIONS = "ratioDefinitions";
    /** Top-level key: the array of variants. */
    public static final String RESULTS = "results";
    /** Variant key: its name. */
    public static final String VARIANT = "variant";
    /** Variant key: figure name to the value of every timed repeat, in the order they ran. */
    public static final String PER_REPEAT = "perRepeat";
    /** Variant key: figure name to its median, min and max over the repeats. */
    public static final String SUMMARY = "summary";

    /** One ratio of medians of the ratio figure: {@code numerator}'s over {@code denominator}'s. */
    public record Ratio(String name, String numerator, String denominator) {
    }

    private final Map<String, double[]> figures = new LinkedHashMap<>();

    /** Adds a figure's values, one per repeat (all figures of a variant have the same repeats). */
    public RepeatFigures add(String figure, double[] perRepeat) {
        if (perRepeat.length == 0) {
            throw new IllegalArgumentException("figure " + figure + " has no repeats");
        }
        if (!figures.isEmpty() && figures.values().iterator().next().length != perRepeat.length) {
            throw new IllegalArgumentException("figure " + figure + " has " + perRepeat.length
                    + " repeats, the others " + figures.values().iterator().next().length);
        }
        figures.put(figure, perRepeat.clone());
        return this;
    }

    /** Adds {@code work / seconds} of every repeat: a throughput whose median is over the repeats too. */
    public RepeatFigures addRate(String figure, double work, double[] seconds) {
        return add(figure, Arrays.stream(seconds).map(s -> work / s).toArray());
    }

    public double median(String figure) {
        return median(values(figure));
    }

    public double min(String figure) {
        return Arrays.stream(values(figure)).min().orElseThrow();
    }

    public double max(String figure) {
        return Arrays.stream(values(figure)).max().orElseThrow();
    }

    /** Writes {@link #PER_REPEAT} and {@link #SUMMARY} into a variant's JSON object. */
    public void writeTo(ObjectNode variant) {
        ObjectNode perRepeat = variant.putObject(PER_REPEAT);
        ObjectNode summary = variant.putObject(SUMMARY);
        figures.forEach((figure, values) -> {
            ArrayNode a = perRepeat.putArray(figure);
            Arrays.stream(values).forEach(a::add);
            ObjectNode s = summary.putObject(figure);
            s.put("median", median(figure));
            s.put("min", min(figure));
            s.put("max", max(figure));
        });
    }

    /** Writes the top-level {@link #FIGURES}, {@link #RATIO_FIGURE} and {@link #RATIO_DEFINITIONS}. */
    public static void describe(ObjectNode root, Map<String, String> descriptions, String ratioFigure,
                                List<Ratio> ratios) {
        ObjectNode f = root.putObject(FIGURES);
        descriptions.forEach(f::put);
        root.put(RATIO_FIGURE, ratioFigure);
        ArrayNode r = root.putArray(RATIO_DEFINITIONS);
        for (Ratio ratio : ratios) {
            r.addObject().put("name", ratio.name()).put("numerator", ratio.numerator())
                    .put("denominator", ratio.denominator());
        }
    }

    /**
     * One variant's repeats under {@code parent.name}: median, min, max and every repeat's value;
     * returns the Markdown table cell " median (min-max) |".
     */
    public static String putSpread(ObjectNode parent, String name, double[] values) {
        ObjectNode f = parent.putObject(name);
        double min = Arrays.stream(values).min().orElseThrow();
        double max = Arrays.stream(values).max().orElseThrow();
        f.put("median", median(values));
        f.put("min", min);
        f.put("max", max);
        ArrayNode each = f.putArray("per_repeat");
        Arrays.stream(values).forEach(each::add);
        return String.format(" %.2f (%.2f-%.2f) |", median(values), min, max);
    }

    /** The middle value; the mean of the two middle ones for an even count. */
    public static double median(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("median of no values");
        }
        double[] s = values.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private double[] values(String figure) {
        double[] v = figures.get(figure);
        if (v == null) {
            throw new IllegalArgumentException("no figure " + figure);
        }
        return v;
    }
}
