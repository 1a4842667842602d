package io.sgdpo.loss;

import io.sgdpo.config.ConfigurationException;

import com.typesafe.config.Config;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * The serialisable description of a preference loss: its name and every hyperparameter, as read
 * from the {@code loss} block of the config. It travels inside DL4J's JSON configuration (a plain
 * bean, so DL4J's Jackson can write and read it) and is turned into a loss by {@link Losses#create}.
 */
public final class LossSpec implements Serializable {

    private static final long serialVersionUID = 1L;

    private String name = "sgdpo";
    private double beta = 0.1;
    private double r1 = 0.6;
    private double r2 = 0.9;
    private double labelSmoothing = 0.0;
    private double gamma = 0.5;

    /** The defaults of reference.conf: SGDPO with the authors' code defaults. */
    public LossSpec() {
    }

    public LossSpec(String name, double beta, double r1, double r2, double labelSmoothing, double gamma) {
        this.name = name;
        this.beta = beta;
        this.r1 = r1;
        this.r2 = r2;
        this.labelSmoothing = labelSmoothing;
        this.gamma = gamma;
    }

    /** Reads name, beta, r1, r2, labelSmoothing and gamma from a config's {@code loss} block. */
    public static LossSpec fromConfig(Config loss) {
        LossSpec spec = new LossSpec(loss.getString("name"), loss.getDouble("beta"), loss.getDouble("r1"),
                loss.getDouble("r2"), loss.getDouble("labelSmoothing"), loss.getDouble("gamma"));
        try {
            Losses.create(spec); // fail before any work, naming the key
        } catch (ConfigurationException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ConfigurationException(e.getMessage(), e);
        }
        return spec;
    }

    /** A copy with another loss name and the same hyperparameters. */
    public LossSpec withName(String newName) {
        return new LossSpec(newName, beta, r1, r2, labelSmoothing, gamma);
    }

    /**
     * The {@code loss.*} keys whose values differ between this spec and {@code other}, each as
     * {@code loss.KEY (THIS vs OTHER)}; empty when they describe the same loss.
     */
    public List<String> differencesFrom(LossSpec other) {
        List<String> differences = new ArrayList<>();
        if (!name.equals(other.name)) {
            differences.add("loss.name (" + name + " vs " + other.name + ")");
        }
        addIfDifferent(differences, "beta", beta, other.beta);
        addIfDifferent(differences, "r1", r1, other.r1);
        addIfDifferent(differences, "r2", r2, other.r2);
        addIfDifferent(differences, "labelSmoothing", labelSmoothing, other.labelSmoothing);
        addIfDifferent(differences, "gamma", gamma, other.gamma);
        return differences;
    }

    private static void addIfDifferent(List<String> differences, String key, double mine, double theirs) {
        if (Double.compare(mine, theirs) != 0) {
            differences.add("loss." + key + " (" + mine + " vs " + theirs + ")");
        }
    }

    public String getName() {
        return name;
    }

    public double getBeta() {
        return beta;
    }

    public double getR1() {
        return r1;
    }

    public double getR2() {
        return r2;
    }

    public double getLabelSmoothing() {
        return labelSmoothing;
    }

    public double getGamma() {
        return gamma;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LossSpec s && name.equals(s.name) && beta == s.beta && r1 == s.r1 && r2 == s.r2
                && labelSmoothing == s.labelSmoothing && gamma == s.gamma;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(name, beta, r1, r2, labelSmoothing, gamma);
    }

    @Override
    public String toString() {
        return "LossSpec{name=" + name + ", beta=" + beta + ", r1=" + r1 + ", r2=" + r2
                + ", labelSmoothing=" + labelSmoothing + ", gamma=" + gamma + "}";
    }
}
