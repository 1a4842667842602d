package io.sgdpo.loss;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Builds a {@link PreferenceLoss} by name, and holds the validation shared by the losses. */
public final class Losses {

    /**
     * The {@code loss.*} keys each loss reads besides {@code loss.name}, by name in the order of
     * {@link #NAMES}: what a report shows of a run's loss settings.
     */
    private static final Map<String, List<String>> KEYS = new LinkedHashMap<>();

    static {
        KEYS.put("sgdpo", List.of("beta", "r1", "r2", "labelSmoothing"));
        KEYS.put("dpo", List.of("beta"));
        KEYS.put("cdpo", List.of("beta", "labelSmoothing"));
        KEYS.put("ipo", List.of("beta"));
        KEYS.put("simpo", List.of("beta", "gamma"));
        KEYS.put("hinge", List.of("beta"));
    }

    /** Every loss name {@link #create} accepts. */
    public static final List<String> NAMES = List.copyOf(KEYS.keySet());

    private Losses() {
    }

    /**
     * The {@code loss.*} keys loss {@code name} reads besides {@code loss.name}.
     *
     * @throws IllegalArgumentException for an unknown loss
     */
    public static List<String> keys(String name) {
        List<String> keys = KEYS.get(name.toLowerCase(Locale.ROOT));
        if (keys == null) {
            throw new IllegalArgumentException("loss.name: unknown loss '" + name + "'; expected one of " + NAMES);
        }
        return keys;
    }

    /** The loss a {@link LossSpec} names, with its hyperparameters validated. */
    public static PreferenceLoss create(LossSpec spec) {
        String name = spec.getName() == null ? "" : spec.getName().toLowerCase(Locale.ROOT);
        if (spec.getLabelSmoothing() != 0 && !(name.equals("cdpo") || name.equals("sgdpo"))) {
            throw new IllegalArgumentException("loss.labelSmoothing = " + spec.getLabelSmoothing()
                    + " applies only to cdpo and sgdpo, not to '" + name + "'");
        }
        return switch (name) {
            case "sgdpo" -> new SgdpoLoss(spec.getBeta(), spec.getR1(), spec.getR2(), spec.getLabelSmoothing());
            case "dpo" -> new DpoLoss(spec.getBeta());
            case "cdpo" -> new CdpoLoss(spec.getBeta(), spec.getLabelSmoothing());
            case "ipo" -> new IpoLoss(spec.getBeta());
            case "simpo" -> new SimpoLoss(spec.getBeta(), spec.getGamma());
            case "hinge" -> new HingeLoss(spec.getBeta());
            default -> throw new IllegalArgumentException("loss.name: unknown loss '" + spec.getName()
                    + "'; expected one of " + NAMES);
        };
    }

    static double requirePositive(String key, double value) {
        if (!(value > 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(key + " must be a finite number > 0, got " + value);
        }
        return value;
    }

    static double requireRatio(String key, double value) {
        if (!(value > 0 && value <= 1)) {
            throw new IllegalArgumentException(key + " must lie in (0, 1], got " + value);
        }
        return value;
    }

    static double requireLabelSmoothing(double value) {
        if (!(value >= 0 && value < 0.5)) {
            throw new IllegalArgumentException("loss.labelSmoothing must lie in [0, 0.5), got " + value);
        }
        return value;
    }
}
