package io.sgdpo.loss;

import java.util.List;
import java.util.Locale;

/** Builds a {@link PreferenceLoss} by name, and holds the validation shared by the losses. */
public final class Losses {

    /** Every loss name {@link #create} accepts. */
    public static final List<String> NAMES = List.of("sgdpo", "dpo", "cdpo", "ipo", "simpo", "hinge");

    private Losses() {
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
