package io.sgdpo.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.loss.BatchMetrics;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.loss.Losses;
import io.sgdpo.prep.Manifest;
import io.sgdpo.train.MetricsFiles;
import io.sgdpo.train.MetricsLog;
import io.sgdpo.train.RunManifests;
import io.sgdpo.train.SftJob;
import io.sgdpo.train.TrainJob;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;

/**
 * {@code sgdpo report}: a Markdown summary comparing preference training runs, with PNG plots.
 *
 * <p>Reads each run folder's {@code metrics/train.jsonl} and {@code _manifest.json} (written by
 * {@code sgdpo train}) and, when present, {@code eval/eval.json} (written by {@code sgdpo eval}).
 * Writes {@code report.md} and the plots {@link #LOSS_PNG}, {@link #ACCURACY_PNG} and
 * {@link #REWARDS_PNG} into the output folder, built under a temporary name and renamed into place,
 * so a crash never leaves a half report. Needs no Spark: the files are small and read on the driver.
 */
public final class RunReport {

    /** The Markdown file in the output folder. */
    public static final String MARKDOWN = "report.md";
    /** Train and eval loss over steps, one panel each, a series per run. */
    public static final String LOSS_PNG = "loss.png";
    /** Eval reward accuracy over steps, a series per run. */
    public static final String ACCURACY_PNG = "eval-accuracy.png";
    /** Eval chosen and rejected rewards over steps, two series per run in one plot. */
    public static final String REWARDS_PNG = "eval-rewards.png";
    /** Where a run holds the output of {@code sgdpo eval}, relative to the run folder. */
    public static final String EVAL_JSON = "eval/eval.json";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String EVAL = BatchMetrics.EVAL_PREFIX;
    private static final String NONE = "–";

    private static final List<String> TRAIN_KEYS = List.of("learningRate", "batchSize", "optimizer");

    private RunReport() {
    }

    /** One run folder as read: its manifest, metric rows and, when present, its eval.json. */
    record Run(Path dir, String label, Manifest manifest, List<Map<String, Object>> rows, Optional<JsonNode> eval) {

        String loss() {
            return manifest.config().path("loss").path("name").asText();
        }

        /** The first row with eval metrics: the reference model before any update (step 0). */
        Optional<Map<String, Object>> firstEval() {
            return rows.stream().filter(r -> r.containsKey(EVAL + BatchMetrics.LOSS)).findFirst();
        }

        /** The last row with eval metrics: the end of the run, or the last eval of an unfinished one. */
        Optional<Map<String, Object>> lastEval() {
            return rows.stream().filter(r -> r.containsKey(EVAL + BatchMetrics.LOSS)).reduce((a, b) -> b);
        }

        long lastStep() {
            return ((Number) rows.get(rows.size() - 1).get("step")).longValue();
        }
    }

    /**
     * Writes the report of the runs into {@code outDir} and returns the path of its report.md.
     *
     * @param conf     Hadoop configuration for the runs' and the output's file systems
     * @param runs     run folders of {@code sgdpo train} (any Hadoop URI), in the order of the table
     * @param outDir   the report folder; replaced as a whole, so it must be absent, empty or a report
     * @param progress where to say what was read and written
     * @throws FileNotFoundException naming the missing folder or file of a run
     * @throws IOException           for an unreadable file or an output folder that is not a report
     */
    public static Path write(Configuration conf, List<String> runs, String outDir, PrintStream progress)
            throws IOException {
        if (runs.isEmpty()) {
            throw new IllegalArgumentException("no run folders to report on");
        }
        List<Run> loaded = new ArrayList<>();
        for (String r : runs) {
            Run run = read(conf, new Path(r));
            progress.printf("report: %s: %s, %d metric rows, last step %d%s%n", run.dir(), run.loss(),
                    run.rows().size(), run.lastStep(), run.eval().isPresent() ? ", " + EVAL_JSON : "");
            loaded.add(run);
        }
        loaded = labelled(loaded);

        Path out = new Path(outDir);
        FileSystem fs = out.getFileSystem(conf);
        AtomicOutput.requireReplaceable(fs, out, MARKDOWN, "a report");
        AtomicOutput output = AtomicOutput.begin(fs, out);
        try {
            Path tmp = output.tmp();
            fs.mkdirs(tmp);
            writePlots(fs, loaded, tmp);
            AtomicOutput.writeString(fs, new Path(tmp, MARKDOWN), markdown(loaded));
            output.commit();
        } finally {
            output.abortIfNotCommitted();
        }
        Path report = new Path(out, MARKDOWN);
        progress.println("report: wrote " + report + " and " + String.join(", ", LOSS_PNG, ACCURACY_PNG, REWARDS_PNG));
        return report;
    }

    /** Reads a run folder; fails naming the folder or file that is missing or unreadable. */
    static Run read(Configuration conf, Path dir) throws IOException {
        FileSystem fs = dir.getFileSystem(conf);
        if (!fs.isDirectory(dir)) {
            throw new FileNotFoundException("run folder " + dir + " does not exist");
        }
        Path metricsDir = new Path(dir, "metrics");
        Path metrics = new Path(metricsDir, TrainJob.METRICS);
        if (!fs.isFile(metrics)) {
            String hint = fs.isFile(new Path(metricsDir, SftJob.METRICS))
                    ? " (it holds " + SftJob.METRICS + ": an SFT run; the report compares preference training runs)"
                    : " (is " + dir + " the --output of sgdpo train?)";
            throw new FileNotFoundException("no metrics: " + metrics + " does not exist" + hint);
        }
        List<Map<String, Object>> rows = MetricsLog.open(fs, metrics).rows();
        if (rows.isEmpty()) {
            throw new IOException("no metrics: " + metrics + " has no rows");
        }
        Manifest manifest = RunManifests.read(fs, dir);
        if (!manifest.config().path("loss").path("name").isTextual()) {
            throw new IOException(new Path(dir, Manifest.FILE) + " has no config.loss.name: not a sgdpo train manifest");
        }
        Path evalFile = new Path(dir, EVAL_JSON);
        Optional<JsonNode> eval = fs.isFile(evalFile) ? Optional.of(readJson(fs, evalFile)) : Optional.empty();
        return new Run(dir, null, manifest, rows, eval);
    }

    private static JsonNode readJson(FileSystem fs, Path file) throws IOException {
        try (InputStream in = fs.open(file)) {
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new IOException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Labels each run by its loss name, adding the folder name where two runs share a loss (and a
     * number where they also share the folder name), so every plot series and table row is distinct.
     */
    static List<Run> labelled(List<Run> runs) {
        Map<String, Long> perLoss = runs.stream().collect(Collectors.groupingBy(Run::loss, Collectors.counting()));
        List<String> labels = runs.stream().map(r -> perLoss.get(r.loss()) == 1 ? r.loss()
                : r.loss() + " (" + r.dir().getName() + ")").toList();
        Map<String, Long> perLabel = labels.stream().collect(Collectors.groupingBy(Function.identity(),
                Collectors.counting()));
        Map<String, Integer> seen = new HashMap<>();
        List<Run> out = new ArrayList<>();
        for (int i = 0; i < runs.size(); i++) {
            String label = labels.get(i);
            if (perLabel.get(label) > 1) {
                label = label + " #" + seen.merge(label, 1, Integer::sum);
            }
            Run r = runs.get(i);
            out.add(new Run(r.dir(), label, r.manifest(), r.rows(), r.eval()));
        }
        return out;
    }

    private static void writePlots(FileSystem fs, List<Run> runs, Path dir) throws IOException {
        XYChart trainLoss = MetricsFiles.chart("train loss", "loss");
        XYChart evalLoss = MetricsFiles.chart("eval loss", "loss");
        XYChart accuracy = MetricsFiles.chart("eval reward accuracy", "accuracy");
        XYChart rewards = MetricsFiles.chart("eval rewards: chosen and rejected", "reward");
        // A run keeps one colour in every plot; its rejected reward is the dashed line of that colour.
        Color[] palette = trainLoss.getStyler().getSeriesColors();
        for (int i = 0; i < runs.size(); i++) {
            Run r = runs.get(i);
            Color colour = palette[i % palette.length];
            List<Optional<XYSeries>> series = List.of(
                    MetricsFiles.addSeries(trainLoss, r.rows(), BatchMetrics.LOSS, r.label()),
                    MetricsFiles.addSeries(evalLoss, r.rows(), EVAL + BatchMetrics.LOSS, r.label()),
                    MetricsFiles.addSeries(accuracy, r.rows(), EVAL + BatchMetrics.REWARDS_ACCURACIES, r.label()),
                    MetricsFiles.addSeries(rewards, r.rows(), EVAL + BatchMetrics.REWARDS_CHOSEN, r.label() + " chosen"));
            series.forEach(s -> s.ifPresent(x -> paint(x, colour, SeriesLines.SOLID)));
            MetricsFiles.addSeries(rewards, r.rows(), EVAL + BatchMetrics.REWARDS_REJECTED, r.label() + " rejected")
                    .ifPresent(x -> paint(x, colour, SeriesLines.DASH_DASH));
        }
        MetricsFiles.savePng(fs, List.of(trainLoss, evalLoss), new Path(dir, LOSS_PNG));
        MetricsFiles.savePng(fs, List.of(accuracy), new Path(dir, ACCURACY_PNG));
        MetricsFiles.savePng(fs, List.of(rewards), new Path(dir, REWARDS_PNG));
    }

    private static void paint(XYSeries series, Color colour, BasicStroke line) {
        series.setLineColor(colour);
        series.setMarkerColor(colour);
        series.setLineStyle(line);
    }

    /** The report's text. */
    static String markdown(List<Run> runs) {
        StringBuilder md = new StringBuilder();
        md.append("# Preference training runs\n\n");
        md.append("Compares ").append(runs.size()).append(" run(s) of `sgdpo train` from their `metrics/")
                .append(TrainJob.METRICS).append("` and `_manifest.json`. Eval metrics are on the eval split")
                .append(" (TRL's names with the `eval_` prefix); rewards are beta x (log pi - log pi_ref) of")
                .append(" the whole response, so a reward below 0 means the policy made that response less")
                .append(" likely than the reference did.\n\n");

        md.append("## Runs\n\n");
        row(md, "run", "folder", "run id", "data", "initial policy");
        rule(md, 5);
        for (Run r : runs) {
            Manifest m = r.manifest();
            List<Manifest.Input> data = m.inputs(Manifest.Input.ROLE_DATA);
            row(md, r.label(), r.dir().toString(), m.section("runId").asText(),
                    data.isEmpty() ? NONE : data.get(0).path(), m.model() == null ? NONE : m.model().path());
        }

        md.append("\n## Final evaluation\n\n");
        md.append("At each run's last eval step; the logps changes are those of the eval mean log-probs")
                .append(" since step 0 (the reference policy). Gold exact match comes from `")
                .append(EVAL_JSON).append("` when the run has one.\n\n");
        row(md, "run", "loss", "hyper-parameters", "steps", "eval step", "eval loss", "eval reward accuracy",
                "eval margin", "eval chosen reward", "eval rejected reward", "logps/chosen change",
                "logps/rejected change", "gold exact match");
        rule(md, 13);
        for (Run r : runs) {
            Optional<Map<String, Object>> last = r.lastEval();
            Optional<Map<String, Object>> first = r.firstEval();
            long total = r.manifest().section("totalSteps").asLong(r.lastStep());
            row(md, r.label(), r.loss(), hyperParameters(r.manifest()),
                    r.lastStep() == total ? Long.toString(total) : r.lastStep() + " of " + total,
                    last.map(m -> m.get("step").toString()).orElse(NONE),
                    metric(last, EVAL + BatchMetrics.LOSS),
                    metric(last, EVAL + BatchMetrics.REWARDS_ACCURACIES),
                    metric(last, EVAL + BatchMetrics.REWARDS_MARGINS),
                    metric(last, EVAL + BatchMetrics.REWARDS_CHOSEN),
                    metric(last, EVAL + BatchMetrics.REWARDS_REJECTED),
                    change(first, last, EVAL + BatchMetrics.LOGPS_CHOSEN),
                    change(first, last, EVAL + BatchMetrics.LOGPS_REJECTED),
                    r.eval().map(e -> e.path("gold").path("exact_match"))
                            .filter(JsonNode::isNumber).map(n -> number(n.asDouble())).orElse(NONE));
        }

        md.append("\n## Held-out evaluation (`sgdpo eval`)\n\n");
        List<Run> evaluated = runs.stream().filter(r -> r.eval().isPresent()).toList();
        if (evaluated.isEmpty()) {
            md.append("No run holds `").append(EVAL_JSON).append("` (the output of `sgdpo eval` for one of its")
                    .append(" checkpoints).\n");
        } else {
            row(md, "run", "checkpoint", "pairs", "eval loss", "eval reward accuracy", "eval margin",
                    "eval chosen reward", "eval rejected reward", "gold source", "gold prompts", "gold exact match");
            rule(md, 11);
            for (Run r : evaluated) {
                JsonNode e = r.eval().orElseThrow();
                JsonNode m = e.path("metrics");
                JsonNode gold = e.path("gold");
                row(md, r.label(), e.path("checkpoint").asText(NONE), e.path("pairs").asText(NONE),
                        jsonMetric(m, EVAL + BatchMetrics.LOSS), jsonMetric(m, EVAL + BatchMetrics.REWARDS_ACCURACIES),
                        jsonMetric(m, EVAL + BatchMetrics.REWARDS_MARGINS),
                        jsonMetric(m, EVAL + BatchMetrics.REWARDS_CHOSEN),
                        jsonMetric(m, EVAL + BatchMetrics.REWARDS_REJECTED),
                        gold.path("source").asText(NONE), gold.path("prompts").asText(NONE),
                        jsonMetric(gold, "exact_match"));
            }
        }

        md.append("\n## Curves\n\n");
        md.append("Loss, train (left) and eval (right):\n\n![loss](").append(LOSS_PNG).append(")\n\n");
        md.append("Eval reward accuracy (fraction of eval pairs whose chosen reward exceeds the rejected one):\n\n")
                .append("![eval reward accuracy](").append(ACCURACY_PNG).append(")\n\n");
        md.append("Eval chosen and rejected rewards: DPO tends to push both down; SGDPO is meant to keep the")
                .append(" chosen reward up while the rejected one falls.\n\n")
                .append("![eval rewards](").append(REWARDS_PNG).append(")\n");
        return md.toString();
    }

    /** The loss's own keys and the main training keys from the manifest's config, e.g. "beta 0.1, lr 5e-4". */
    private static String hyperParameters(Manifest manifest) {
        JsonNode loss = manifest.config().path("loss");
        JsonNode train = manifest.config().path("train");
        List<String> parts = new ArrayList<>();
        String name = loss.path("name").asText();
        for (String k : Losses.NAMES.contains(name) ? Losses.keys(name) : List.of("beta")) {
            if (loss.has(k)) {
                parts.add(k + " " + loss.get(k).asText());
            }
        }
        for (String k : TRAIN_KEYS) {
            if (train.has(k)) {
                parts.add(k + " " + train.get(k).asText());
            }
        }
        return String.join(", ", parts);
    }

    private static String metric(Optional<Map<String, Object>> row, String key) {
        return row.map(r -> r.get(key)).filter(v -> v instanceof Number).map(v -> number(((Number) v).doubleValue()))
                .orElse(NONE);
    }

    private static String change(Optional<Map<String, Object>> first, Optional<Map<String, Object>> last, String key) {
        if (first.isEmpty() || last.isEmpty() || !(first.get().get(key) instanceof Number a)
                || !(last.get().get(key) instanceof Number b)) {
            return NONE;
        }
        double d = b.doubleValue() - a.doubleValue();
        return (d >= 0 ? "+" : "") + number(d);
    }

    private static String jsonMetric(JsonNode node, String key) {
        JsonNode v = node.path(key);
        return v.isNumber() ? number(v.asDouble()) : NONE;
    }

    /** Four decimals: the metrics are means over a few hundred pairs at most. */
    private static String number(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    private static void row(StringBuilder md, String... cells) {
        md.append('|');
        for (String c : cells) {
            md.append(' ').append(c.replace("|", "\\|")).append(" |");
        }
        md.append('\n');
    }

    private static void rule(StringBuilder md, int columns) {
        md.append('|').append("---|".repeat(columns)).append('\n');
    }
}
