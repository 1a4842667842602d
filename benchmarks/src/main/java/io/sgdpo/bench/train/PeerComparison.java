package io.sgdpo.bench.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.bench.prep.RepeatFigures;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The project/PyTorch table of a {@code bench-peer} run and where each goal of the speed issue
 * stands, computed from its JSON alone (so that {@code bench-report} and {@code bench-peer} print
 * the same): per shape and figure the median (min, max) of both sides, the ratio of medians, the
 * peak memory of both and its ratio, and for the training step and the reference pass the fraction
 * of the matmul bound (model FLOP/s over the higher of ND4J's and PyTorch's float32 1024^3 matmul
 * rates from the same run).
 */
public final class PeerComparison {

    /** One goal of the issue: a ratio at a shape and figure that must reach (or stay under) a target. */
    record Goal(String text, String shape, String figure, String measure, double target, boolean atMost) {
    }

    static final List<Goal> GOALS = List.of(
            new Goal("training step >= 1.0x PyTorch at the mid shape", "mid", "train", "ratio", 1.0, false),
            new Goal("training step >= 1.0x PyTorch at the GPT-2 shape", "gpt2", "train", "ratio", 1.0, false),
            new Goal("training step >= 0.5x PyTorch at the tiny shape", "tiny", "train", "ratio", 0.5, false),
            new Goal("GPT-2 shape training step >= 40% of the same run's matmul rate", "gpt2", "train",
                    "projectMatmulFraction", 0.4, false),
            new Goal("reference pass >= 1.0x PyTorch at the mid shape", "mid", "ref", "ratio", 1.0, false),
            new Goal("reference pass >= 1.0x PyTorch at the GPT-2 shape", "gpt2", "ref", "ratio", 1.0, false),
            new Goal("generation >= 1.0x PyTorch (key/value cache) at the mid shape", "mid", "gen", "ratio", 1.0,
                    false),
            new Goal("generation >= 1.0x PyTorch (key/value cache) at the GPT-2 shape", "gpt2", "gen", "ratio", 1.0,
                    false),
            new Goal("peak memory <= 1.2x PyTorch's at the GPT-2 shape (training step)", "gpt2", "train", "peakRatio",
                    1.2, true));

    private PeerComparison() {
    }

    /** The comparison of a peer.json (its shapes, results and matmul rates). */
    public static ObjectNode compare(JsonNode peer) {
        Map<String, JsonNode> summaries = new HashMap<>();
        for (JsonNode v : peer.path(RepeatFigures.RESULTS)) {
            summaries.put(v.path(RepeatFigures.VARIANT).asText(), summary(v.path(RepeatFigures.PER_REPEAT)));
        }
        double bound = Math.max(peer.path("matmul").path("nd4jGflops").asDouble(0),
                peer.path("matmul").path("pytorchGflops").asDouble(0)) * 1e9;

        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.put("matmulBoundGflops", bound / 1e9);
        if (peer.has("warmups")) {
            c.put("warmups", peer.path("warmups").asInt());
        }
        ArrayNode rows = c.putArray("rows");
        for (Iterator<Map.Entry<String, JsonNode>> it = peer.path("shapes").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> shape = it.next();
            String name = shape.getKey();
            double flops = shape.getValue().path("forwardFlopsPerToken").asDouble();
            for (String figure : PeerBenchmark.FIGURES) {
                ObjectNode row = rows.addObject();
                row.put("shape", name);
                row.put("description", shape.getValue().path("description").asText());
                row.put("figure", figure);
                row.put("unit", figure.equals("gen") ? "tokens/s" : "positions/s");
                JsonNode project = summaries.get(PeerBenchmark.variant(name, figure, PeerBenchmark.PROJECT));
                JsonNode torch = summaries.get(PeerBenchmark.variant(name, figure, PeerBenchmark.PYTORCH));
                JsonNode noCache = summaries.get(PeerBenchmark.variant(name, figure, PeerBenchmark.PYTORCH_NO_CACHE));
                putFigure(row, "project", project);
                putFigure(row, "pytorch", torch);
                if (figure.equals("gen")) {
                    putFigure(row, "pytorchNoCache", noCache);
                }
                if (project == null) {
                    row.put("status", "not measured in this run");
                    continue;
                }
                row.put("status", "measured");
                if (torch != null) {
                    row.put("ratio", median(project, "perSecond") / median(torch, "perSecond"));
                    row.put("peakRatio", median(project, "peakRssMiB") / median(torch, "peakRssMiB"));
                }
                if (noCache != null) {
                    row.put("ratioNoCache", median(project, "perSecond") / median(noCache, "perSecond"));
                }
                if (!figure.equals("gen") && bound > 0 && flops > 0) {
                    double passes = figure.equals("train") ? 3.0 : 1.0; // forward + backward = 3 forwards
                    row.put("projectMatmulFraction", passes * flops * median(project, "perSecond") / bound);
                    if (torch != null) {
                        row.put("pytorchMatmulFraction", passes * flops * median(torch, "perSecond") / bound);
                    }
                }
            }
        }

        ArrayNode goals = c.putArray("goals");
        for (Goal g : GOALS) {
            ObjectNode n = goals.addObject();
            n.put("goal", g.text());
            n.put("target", (g.atMost() ? "<= " : ">= ") + fmt(g.target()));
            JsonNode row = find(rows, g.shape(), g.figure());
            if (row == null) {
                n.putNull("value");
                n.put("status", "shape not in this run");
            } else if (!row.has(g.measure())) {
                n.putNull("value");
                n.put("status", row.path("status").asText().equals("measured") ? "not measured" : row.path("status")
                        .asText());
            } else {
                double v = row.path(g.measure()).asDouble();
                n.put("value", v);
                boolean met = g.atMost() ? v <= g.target() : v >= g.target();
                n.put("met", met);
                n.put("status", met ? "met" : "missed");
            }
        }
        ObjectNode e2e = goals.addObject();
        e2e.put("goal", "sgdpo train end to end on local[2] >= 0.8x of the plain step's tokens/s");
        e2e.put("target", ">= 0.8");
        e2e.putNull("value");
        e2e.put("status", "measured by bench-train, not bench-peer: ratio job/plain in bench/train.json");
        return c;
    }

    /** Median, min and max of every figure, from the per-repeat values (never a stored summary). */
    private static JsonNode summary(JsonNode perRepeat) {
        ObjectNode s = JsonNodeFactory.instance.objectNode();
        perRepeat.fields().forEachRemaining(f -> {
            double[] v = new double[f.getValue().size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = f.getValue().get(i).asDouble();
            }
            if (v.length > 0) {
                s.putObject(f.getKey()).put("median", RepeatFigures.median(v))
                        .put("min", java.util.Arrays.stream(v).min().orElseThrow())
                        .put("max", java.util.Arrays.stream(v).max().orElseThrow());
            }
        });
        return s;
    }

    private static void putFigure(ObjectNode row, String key, JsonNode summary) {
        if (summary == null) {
            row.putNull(key);
            return;
        }
        ObjectNode f = row.putObject(key);
        f.put("median", median(summary, "perSecond"));
        f.put("min", summary.path("perSecond").path("min").asDouble());
        f.put("max", summary.path("perSecond").path("max").asDouble());
        f.put("peakRssMiB", median(summary, "peakRssMiB"));
    }

    private static double median(JsonNode summary, String figure) {
        return summary.path(figure).path("median").asDouble();
    }

    private static JsonNode find(ArrayNode rows, String shape, String figure) {
        for (JsonNode r : rows) {
            if (r.path("shape").asText().equals(shape) && r.path("figure").asText().equals(figure)) {
                return r;
            }
        }
        return null;
    }

    /** The ratio table and the goals as Markdown. */
    public static String markdown(JsonNode comparison) {
        StringBuilder md = new StringBuilder();
        md.append("Medians (min–max) over every timed repeat");
        if (comparison.has("warmups")) {
            md.append(" (each process's, after ").append(comparison.path("warmups").asInt())
                    .append(" untimed warm-ups)");
        }
        md.append("; ratios are of medians from the same run (> 1: the")
                .append(" project is faster). Peak: resident memory of the process that ran the figure, off-heap")
                .append(" included. Matmul fraction: model FLOP/s (3 forward passes per position for a training step,")
                .append(" 1 for the reference pass) over the higher float32 1024^3 matmul rate of the run (")
                .append(fmt(comparison.path("matmulBoundGflops").asDouble())).append(" GFLOP/s). Generation: PyTorch")
                .append(" with a key/value cache; the last column compares with PyTorch without one.\n\n");
        md.append("| shape | figure | project | PyTorch | project/PyTorch | peak MiB project / PyTorch (ratio) |")
                .append(" matmul fraction project / PyTorch | vs PyTorch without cache |\n")
                .append("|---|---|---|---|---|---|---|---|\n");
        for (JsonNode r : comparison.path("rows")) {
            md.append("| ").append(r.path("shape").asText()).append(" | ").append(r.path("figure").asText())
                    .append(" (").append(r.path("unit").asText()).append(") | ");
            if (!r.path("status").asText().equals("measured")) {
                md.append(r.path("status").asText()).append(" | ").append(figure(r.path("pytorch")))
                        .append(" | | ").append(r.path("pytorch").isObject()
                                ? "– / " + fmt(r.path("pytorch").path("peakRssMiB").asDouble()) : "")
                        .append(" | | ").append(r.path("pytorchNoCache").isObject()
                                ? "PyTorch " + figure(r.path("pytorchNoCache")) : "").append(" |\n");
                continue;
            }
            md.append(figure(r.path("project"))).append(" | ").append(figure(r.path("pytorch"))).append(" | ")
                    .append(r.has("ratio") ? "**" + fmt(r.path("ratio").asDouble()) + "**" : "").append(" | ")
                    .append(fmt(r.path("project").path("peakRssMiB").asDouble())).append(" / ")
                    .append(r.path("pytorch").isObject() ? fmt(r.path("pytorch").path("peakRssMiB").asDouble()) : "–")
                    .append(r.has("peakRatio") ? " (" + fmt(r.path("peakRatio").asDouble()) + ")" : "").append(" | ")
                    .append(r.has("projectMatmulFraction") ? fmt(r.path("projectMatmulFraction").asDouble()) + " / "
                            + fmt(r.path("pytorchMatmulFraction").asDouble()) : "").append(" | ")
                    .append(r.has("ratioNoCache") ? figure(r.path("pytorchNoCache")) + " (ratio "
                            + fmt(r.path("ratioNoCache").asDouble()) + ")" : "").append(" |\n");
        }
        md.append("\n| goal | target | this run | status |\n|---|---|---|---|\n");
        for (JsonNode g : comparison.path("goals")) {
            md.append("| ").append(g.path("goal").asText()).append(" | ").append(g.path("target").asText())
                    .append(" | ").append(g.path("value").isNumber() ? fmt(g.path("value").asDouble()) : "–")
                    .append(" | ").append(g.path("status").asText()).append(" |\n");
        }
        return md.toString();
    }

    private static String figure(JsonNode f) {
        if (!f.isObject()) {
            return "–";
        }
        return fmt(f.path("median").asDouble()) + " (" + fmt(f.path("min").asDouble()) + "–"
                + fmt(f.path("max").asDouble()) + ")";
    }

    /** Four significant digits, never in exponent notation (as bench-report writes figures). */
    static String fmt(double x) {
        if (!Double.isFinite(x)) {
            return String.valueOf(x);
        }
        return BigDecimal.valueOf(x).round(new MathContext(4, RoundingMode.HALF_EVEN)).stripTrailingZeros()
                .toPlainString();
    }
}
