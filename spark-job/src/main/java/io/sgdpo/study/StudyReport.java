package io.sgdpo.study;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.demo.DemoJob.Outcome;
import io.sgdpo.output.AtomicOutput;
import io.sgdpo.study.StudyJob.DatasetResult;
import io.sgdpo.study.StudyJob.Point;
import io.sgdpo.study.StudyJob.RunResult;
import io.sgdpo.train.MetricsFiles;
import java.awt.Color;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;

/**
 * The study's report: {@code study.md} (per data set, each loss's mean and standard deviation over
 * seeds, with findings computed from those numbers, and the pilot-ratio sweep), {@code study.json}
 * (every number, every run), {@code trajectories-NAME.png} (eval log-prob changes over training,
 * per loss) and {@code config.json} (every setting). The folder is written aside and renamed, so
 * an earlier report stays whole until the new one is complete.
 */
public final class StudyReport {

    /** The report's Markdown file. */
    public static final String MARKDOWN = "study.md";
    /** Every number of the study. */
    public static final String JSON_FILE = "study.json";
    /** Every setting the study ran with. */
    public static final String CONFIG_FILE = "config.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String SGDPO = "sgdpo";

    private StudyReport() {
    }

    /**
     * A finished study.
     *
     * @param minutes wall time of the invocation that wrote the report (resumed work not counted)
     */
    public record Study(String command, String codeVersion, String machine, double minutes, StudySettings settings,
                        List<DatasetResult> datasets, Config config) {
    }

    /** Mean and sample standard deviation (n - 1; 0 for one value) of a metric over runs. */
    public record MeanStd(double mean, double std, int n) {

        static MeanStd of(List<Double> values) {
            if (values.isEmpty()) {
                throw new IllegalArgumentException("no values");
            }
            double mean = values.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            double ss = values.stream().mapToDouble(v -> (v - mean) * (v - mean)).sum();
            return new MeanStd(mean, values.size() > 1 ? Math.sqrt(ss / (values.size() - 1)) : 0, values.size());
        }

        String format(String pattern) {
            String m = String.format(Locale.ROOT, pattern, mean);
            // a spread has no sign, even where the mean shows one (%+.3f)
            return n > 1 ? m + " ± " + String.format(Locale.ROOT, pattern.replace("+", ""), std) : m;
        }
    }

    /**
     * A reported metric of a trained policy, computed from its evaluation and the reference's.
     *
     * @param higherIsBetter null where neither direction is better in itself (log-prob changes)
     */
    record Metric(String key, String header, String pattern, Boolean higherIsBetter, boolean goldOnly,
                  MetricValue value) {
    }

    /** The value of a metric for one run, given the reference's evaluation. */
    interface MetricValue {
        Double of(Outcome run, Outcome reference);
    }

    static final List<Metric> METRICS = List.of(
            new Metric("reward_accuracy", "eval reward accuracy", "%.3f", true, false, (o, r) -> o.rewardAccuracy()),
            new Metric("reward_margin", "eval margin", "%.3f", true, false, (o, r) -> o.rewardMargin()),
            new Metric("delta_logp_chosen", "Δ log p chosen", "%+.3f", null, false,
                    (o, r) -> o.logpsChosen() - r.logpsChosen()),
            new Metric("delta_logp_rejected", "Δ log p rejected", "%+.3f", null, false,
                    (o, r) -> o.logpsRejected() - r.logpsRejected()),
            new Metric("gold_exact_match", "gold exact match", "%.3f", true, true, (o, r) -> o.goldExactMatch()),
            new Metric("gold_carrying", "carrying prompts", "%.3f", true, true, (o, r) -> o.carryingExactMatch()),
            new Metric("gold_other", "other prompts", "%.3f", true, true, (o, r) -> o.otherExactMatch()));

    /**
     * Writes the report to {@code outDir}, replacing an earlier study report there.
     *
     * @return the Markdown file
     * @throws IOException when the folder exists and holds something other than a study report
     */
    public static Path write(Configuration conf, Study study, String outDir) throws IOException {
        Path out = new Path(outDir);
        FileSystem fs = out.getFileSystem(conf);
        AtomicOutput.requireReplaceable(fs, out, MARKDOWN, "a study report");
        AtomicOutput output = AtomicOutput.begin(fs, out);
        try {
            Path tmp = output.tmp();
            fs.mkdirs(tmp);
            for (DatasetResult d : study.datasets()) {
                writeTrajectories(fs, d, study.settings().losses(), new Path(tmp, trajectoryFile(d)));
            }
            AtomicOutput.writeString(fs, new Path(tmp, JSON_FILE), JSON.writeValueAsString(json(study)));
            AtomicOutput.writeString(fs, new Path(tmp, CONFIG_FILE), JSON.writeValueAsString(
                    JSON.readTree(SgdpoConfig.renderJson(study.config(), SgdpoConfig.NAMESPACES))));
            AtomicOutput.writeString(fs, new Path(tmp, MARKDOWN), markdown(study));
            output.commit();
        } finally {
            output.abortIfNotCommitted();
        }
        return new Path(out, MARKDOWN);
    }

    /** Each loss's mean and standard deviation over its seeds, per metric (gold metrics only with gold answers). */
    static Map<String, Map<String, MeanStd>> summary(List<RunResult> runs, Outcome reference, List<String> losses) {
        Map<String, Map<String, MeanStd>> summary = new LinkedHashMap<>();
        for (String loss : losses) {
            List<RunResult> of = runs.stream().filter(r -> r.loss().equals(loss)).toList();
            if (!of.isEmpty()) {
                summary.put(loss, stats(of, reference));
            }
        }
        return summary;
    }

    private static Map<String, MeanStd> stats(List<RunResult> runs, Outcome reference) {
        Map<String, MeanStd> m = new LinkedHashMap<>();
        for (Metric metric : METRICS) {
            if (metric.goldOnly() && reference.goldExactMatch() == null) {
                continue;
            }
            List<Double> values = runs.stream().map(r -> metric.value().of(r.outcome(), reference)).toList();
            if (values.stream().noneMatch(v -> v == null)) {
                m.put(metric.key(), MeanStd.of(values));
            }
        }
        return m;
    }

    static String markdown(Study study) {
        StudySettings s = study.settings();
        StringBuilder md = new StringBuilder("# Preference losses compared: " + String.join(", ", s.losses()) + "\n\n");
        List<RunResult> all = study.datasets().stream()
                .flatMap(d -> Stream.concat(d.runs().stream(), d.sweep().stream())).toList();
        long resumed = all.stream().filter(RunResult::resumed).count();
        md.append(String.format(Locale.ROOT, "Command: `%s`  %nCode: %s  %nMachine: %s  %nWall time: %.1f min%s%n%n",
                study.command(), study.codeVersion(), study.machine(), study.minutes(), resumed == 0 ? ""
                        : String.format(Locale.ROOT, " (this invocation; %d of the %d training runs continued from"
                        + " checkpoints of an earlier one, which did their training)", resumed, all.size())));
        md.append(String.format(Locale.ROOT, "Every loss trained from the same SFT reference per data set, with the"
                        + " same steps, batch and learning rate, once per seed (train.seed %s: data order and SGDPO's"
                        + " pilot draws). Table cells are the mean ± sample standard deviation over the %d seeds.%n%n",
                s.seeds(), s.seeds().size()));
        md.append("How each column is measured, on the data set's eval split:\n\n");
        md.append("- **eval reward accuracy / eval margin**: DPO's implicit reward r = β·log(π/π_ref) of the full"
                + " response at the data set's β, for every policy whatever loss trained it (SimPO's own reward is"
                + " length-normalised and reference-free, so its own accuracy would not compare); accuracy is the"
                + " fraction of pairs with r(chosen) > r(rejected), margin the mean of r(chosen) − r(rejected).\n");
        md.append("- **Δ log p chosen / rejected**: change of the mean sequence log-probability (nats) of the chosen"
                + " and of the rejected eval responses from the reference. SGDPO's claim is about these: DPO tends to"
                + " push both down; SGDPO's pilot terms are meant to keep the chosen one from falling.\n");
        md.append("- **gold exact match** (generated task only): greedy answers to held-out prompts that equal the"
                + " true sum; apart on prompts whose answer carries (where the SFT data was noisy) and the others.\n");
        md.append("\nEvery number of every run is in " + JSON_FILE + "; every setting in " + CONFIG_FILE + ".\n");

        for (DatasetResult d : study.datasets()) {
            md.append("\n## ").append(d.dataset().name()).append("\n\n");
            Config c = d.dataset().config();
            md.append(String.format(Locale.ROOT, "Data: %s. %d train pairs, %d eval pairs.  %n", d.description(),
                    d.trainPairs(), d.evalPairs()));
            md.append(String.format(Locale.ROOT, "Training: %s steps of %d pairs, learning rate %s, β %s; model"
                            + " d=%d, %d layers, length %d; reference: %d SFT epoch(s).%s%n%n",
                    c.getLong("train.maxSteps") > 0 ? Long.toString(c.getLong("train.maxSteps"))
                            : c.getInt("train.epochs") + " epoch(s) of", c.getInt("train.batchSize"),
                    c.getValue("train.learningRate").unwrapped(), c.getValue("loss.beta").unwrapped(),
                    c.getInt("model.dModel"), c.getInt("model.layers"), c.getInt("model.maxLength"),
                    c.getInt("sft.epochs"), lossSettingsNote(s)));
            boolean gold = d.reference().goldExactMatch() != null;
            Map<String, Map<String, MeanStd>> summary = summary(d.runs(), d.reference(), s.losses());
            table(md, d.reference(), summary, gold);
            md.append("\n![eval log-prob changes over training](").append(trajectoryFile(d)).append(")\n\n");
            md.append("Findings:\n\n");
            findings(summary, gold).forEach(f -> md.append("- ").append(f).append('\n'));
            if (!d.sweep().isEmpty()) {
                sweep(md, d, s.sweep());
            }
        }
        return md.toString();
    }

    private static String lossSettingsNote(StudySettings s) {
        if (s.lossSettings().isEmpty()) {
            return "";
        }
        return " Per loss: " + s.lossSettings().entrySet().stream()
                .map(e -> e.getKey() + " " + e.getValue().root().render(
                        ConfigRenderOptions.concise()).replace("\"", ""))
                .collect(Collectors.joining("; ")) + ".";
    }

    private static void table(StringBuilder md, Outcome reference, Map<String, Map<String, MeanStd>> summary,
                              boolean gold) {
        List<Metric> shown = METRICS.stream().filter(m -> gold || !m.goldOnly()).toList();
        md.append("| policy |");
        shown.forEach(m -> md.append(' ').append(m.header()).append(" |"));
        md.append("\n|---|").append("---|".repeat(shown.size())).append('\n');
        md.append("| reference (SFT) |");
        for (Metric m : shown) {
            // the reference's own rewards and changes are zero by definition
            Double v = m.goldOnly() ? m.value().of(reference, reference) : null;
            md.append(' ').append(v == null ? "–" : String.format(Locale.ROOT, m.pattern(), v)).append(" |");
        }
        md.append('\n');
        summary.forEach((loss, stats) -> {
            md.append("| ").append(loss).append(" |");
            for (Metric m : shown) {
                MeanStd v = stats.get(m.key());
                md.append(' ').append(v == null ? "–" : v.format(m.pattern())).append(" |");
            }
            md.append('\n');
        });
    }

    /**
     * Sentences that read the table: which loss leads each metric, where SGDPO stands (including
     * where it does not win, with the gap against the seeds' spread), and how the log-probs moved.
     */
    static List<String> findings(Map<String, Map<String, MeanStd>> summary, boolean gold) {
        List<String> out = new ArrayList<>();
        for (Metric m : METRICS) {
            if (m.higherIsBetter() == null || (m.goldOnly() && !gold) || m.key().equals("gold_other")
                    || m.key().equals("gold_carrying")) {
                continue;
            }
            List<Map.Entry<String, MeanStd>> ranked = summary.entrySet().stream()
                    .filter(e -> e.getValue().containsKey(m.key()))
                    .map(e -> Map.entry(e.getKey(), e.getValue().get(m.key())))
                    .sorted(Comparator.comparingDouble((Map.Entry<String, MeanStd> e) -> e.getValue().mean()).reversed())
                    .toList();
            if (ranked.isEmpty()) {
                continue;
            }
            Map.Entry<String, MeanStd> best = ranked.get(0);
            StringBuilder f = new StringBuilder(String.format(Locale.ROOT, "**%s**: highest %s (%s)", m.header(),
                    best.getKey(), best.getValue().format(m.pattern())));
            int rank = 0;
            for (int i = 0; i < ranked.size(); i++) {
                if (ranked.get(i).getKey().equals(SGDPO)) {
                    rank = i + 1;
                }
            }
            if (rank == 1 && ranked.size() > 1) {
                Map.Entry<String, MeanStd> second = ranked.get(1);
                f.append(String.format(Locale.ROOT, "; next %s (%s): %s", second.getKey(),
                        second.getValue().format(m.pattern()), versus(best.getValue(), second.getValue())));
            } else if (rank > 1) {
                MeanStd sg = ranked.get(rank - 1).getValue();
                f.append(String.format(Locale.ROOT, "; SGDPO does not win: rank %d of %d (%s), %s", rank,
                        ranked.size(), sg.format(m.pattern()), versus(best.getValue(), sg)));
            }
            out.add(f.append('.').toString());
        }
        StringBuilder moves = new StringBuilder("**log-probs**: ");
        List<String> parts = new ArrayList<>();
        summary.forEach((loss, stats) -> {
            MeanStd c = stats.get("delta_logp_chosen");
            MeanStd r = stats.get("delta_logp_rejected");
            if (c != null && r != null) {
                parts.add(String.format(Locale.ROOT, "%s moved chosen %+.3f, rejected %+.3f", loss, c.mean(),
                        r.mean()));
            }
        });
        moves.append(String.join("; ", parts)).append('.');
        List<String> raised = summary.entrySet().stream().filter(e -> e.getValue().containsKey("delta_logp_chosen")
                && e.getValue().get("delta_logp_chosen").mean() > 0).map(Map.Entry::getKey).toList();
        moves.append(raised.isEmpty() ? " No loss raised the chosen log-prob on average."
                : " Raised the chosen log-prob on average: " + String.join(", ", raised) + ".");
        out.add(moves.toString());
        return out;
    }

    /** Whether two means differ by more than the seeds' spread: a plain-words reading for small n. */
    private static String versus(MeanStd a, MeanStd b) {
        double gap = Math.abs(a.mean() - b.mean());
        double spread = Math.max(a.std(), b.std());
        if (a.n() < 2 || b.n() < 2) {
            return String.format(Locale.ROOT, "gap %.3f (one seed: no spread to compare with)", gap);
        }
        return String.format(Locale.ROOT, "gap %.3f, %s the larger seed standard deviation %.3f", gap,
                gap > 2 * spread ? "more than twice" : gap > spread ? "more than" : "within", spread);
    }

    private static void sweep(StringBuilder md, DatasetResult d, StudySettings.Sweep s) {
        md.append(String.format(Locale.ROOT, "%n### SGDPO pilot ratios on %s%n%nOne SGDPO run per (r1, r2) and"
                        + " seed %s, same reference, steps and batch as above. Each cell: mean over the seeds%s.%n",
                d.dataset().name(), s.seeds(), s.seeds().size() > 1 ? " ± standard deviation" : ""));
        boolean gold = d.reference().goldExactMatch() != null;
        for (Metric m : METRICS) {
            if (m.key().equals("reward_margin") || m.key().equals("gold_carrying") || m.key().equals("gold_other")
                    || (m.goldOnly() && !gold)) {
                continue;
            }
            md.append(String.format(Locale.ROOT, "%n%s (rows r1, columns r2):%n%n| r1 \\ r2 |", m.header()));
            s.r2().forEach(r2 -> md.append(' ').append(r2).append(" |"));
            md.append("\n|---|").append("---|".repeat(s.r2().size())).append('\n');
            for (double r1 : s.r1()) {
                md.append("| ").append(r1).append(" |");
                for (double r2 : s.r2()) {
                    List<Double> v = d.sweep().stream().filter(r -> r.r1() == r1 && r.r2() == r2)
                            .map(r -> m.value().of(r.outcome(), d.reference())).toList();
                    md.append(' ').append(v.isEmpty() ? "–" : MeanStd.of(v).format(m.pattern())).append(" |");
                }
                md.append('\n');
            }
        }
        Map<String, List<RunResult>> byCell = d.sweep().stream().collect(Collectors.groupingBy(
                r -> r.r1() + "/" + r.r2(), TreeMap::new, Collectors.toList()));
        Function<String, Map.Entry<String, Double>> bestBy = key -> {
            Metric m = METRICS.stream().filter(x -> x.key().equals(key)).findFirst().orElseThrow();
            return byCell.entrySet().stream()
                    .map(e -> Map.entry(e.getKey(), MeanStd.of(e.getValue().stream()
                            .map(r -> m.value().of(r.outcome(), d.reference())).toList()).mean()))
                    .max(Map.Entry.comparingByValue()).orElseThrow();
        };
        Map.Entry<String, Double> acc = bestBy.apply("reward_accuracy");
        md.append(String.format(Locale.ROOT, "%nHighest eval reward accuracy at r1/r2 = %s (%.3f)", acc.getKey(),
                acc.getValue()));
        if (gold) {
            Map.Entry<String, Double> g = bestBy.apply("gold_exact_match");
            md.append(String.format(Locale.ROOT, "; highest gold exact match at r1/r2 = %s (%.3f)", g.getKey(),
                    g.getValue()));
        }
        md.append(".\n");
    }

    private static String trajectoryFile(DatasetResult d) {
        return "trajectories-" + d.dataset().name() + ".png";
    }

    /**
     * Two charts: the change since step 0 of the chosen and of the rejected eval log-probs, one
     * line per loss (the mean over its seeds at each evaluated step).
     */
    private static void writeTrajectories(FileSystem fs, DatasetResult d, List<String> losses, Path png)
            throws IOException {
        XYChart chosen = MetricsFiles.chart(d.dataset().name() + ": Δ log p chosen (eval)", "nats since step 0");
        XYChart rejected = MetricsFiles.chart(d.dataset().name() + ": Δ log p rejected (eval)", "nats since step 0");
        Color[] palette = chosen.getStyler().getSeriesColors();
        int i = 0;
        for (String loss : losses) {
            TreeMap<Long, double[]> mean = meanTrajectory(d.runs().stream().filter(r -> r.loss().equals(loss))
                    .toList());
            if (mean.isEmpty()) {
                continue;
            }
            List<Double> steps = mean.keySet().stream().map(Long::doubleValue).toList();
            Color colour = palette[i++ % palette.length];
            XYSeries c = chosen.addSeries(loss, steps, mean.values().stream().map(v -> v[0]).toList());
            XYSeries r = rejected.addSeries(loss, steps, mean.values().stream().map(v -> v[1]).toList());
            for (XYSeries x : List.of(c, r)) {
                x.setLineColor(colour);
                x.setMarkerColor(colour);
                x.setLineStyle(SeriesLines.SOLID);
            }
        }
        MetricsFiles.savePng(fs, List.of(chosen, rejected), png);
    }

    /**
     * Per evaluated step, the mean over runs of the chosen and rejected log-prob changes since each
     * run's first evaluation (step 0: the reference); steps missing from a run average over the others.
     */
    static TreeMap<Long, double[]> meanTrajectory(List<RunResult> runs) {
        TreeMap<Long, double[]> sums = new TreeMap<>();
        for (RunResult run : runs) {
            if (run.trajectory().isEmpty()) {
                continue;
            }
            Point first = run.trajectory().get(0);
            for (Point p : run.trajectory()) {
                double[] s = sums.computeIfAbsent(p.step(), k -> new double[3]);
                s[0] += p.logpsChosen() - first.logpsChosen();
                s[1] += p.logpsRejected() - first.logpsRejected();
                s[2]++;
            }
        }
        TreeMap<Long, double[]> mean = new TreeMap<>();
        sums.forEach((step, s) -> mean.put(step, new double[]{s[0] / s[2], s[1] / s[2]}));
        return mean;
    }

    static ObjectNode json(Study study) {
        ObjectNode root = JSON.createObjectNode();
        root.put("command", study.command());
        root.put("code_version", study.codeVersion());
        root.put("machine", study.machine());
        root.put("date", ZonedDateTime.now().format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
        root.put("wall_minutes", study.minutes());
        StudySettings s = study.settings();
        root.set("losses", JSON.valueToTree(s.losses()));
        root.set("seeds", JSON.valueToTree(s.seeds()));
        root.put("scoring", "every policy evaluated with " + StudySettings.SCORING_LOSS
                + "'s implicit reward at the data set's loss.beta");
        ArrayNode datasets = root.putArray("datasets");
        for (DatasetResult d : study.datasets()) {
            ObjectNode o = datasets.addObject();
            o.put("name", d.dataset().name());
            o.put("description", d.description());
            o.put("train_pairs", d.trainPairs());
            o.put("eval_pairs", d.evalPairs());
            o.set("config", settingsOf(d.dataset().config()));
            o.set("reference", outcome(d.reference(), d.reference()));
            ObjectNode summary = o.putObject("summary");
            summary(d.runs(), d.reference(), s.losses()).forEach((loss, stats) -> {
                ObjectNode l = summary.putObject(loss);
                stats.forEach((k, v) -> l.putObject(k).put("mean", v.mean()).put("std", v.std()).put("n", v.n()));
            });
            o.set("runs", runs(d.runs(), d.reference()));
            if (!d.sweep().isEmpty()) {
                o.set("sweep", runs(d.sweep(), d.reference()));
            }
        }
        return root;
    }

    private static JsonNode settingsOf(Config c) {
        try {
            return JSON.readTree(SgdpoConfig.renderJson(c, List.of("prep", "tokenizer", "model", "loss", "sft",
                    "train", "eval", "demo")));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ArrayNode runs(List<RunResult> runs, Outcome reference) {
        ArrayNode a = JSON.createArrayNode();
        for (RunResult r : runs) {
            ObjectNode o = a.addObject();
            o.put("loss", r.loss());
            o.put("seed", r.seed());
            if (r.r1() != null) {
                o.put("r1", r.r1());
                o.put("r2", r.r2());
            }
            o.put("dir", r.dir().toString());
            o.put("resumed", r.resumed());
            o.set("metrics", outcome(r.outcome(), reference));
            ArrayNode t = o.putArray("trajectory");
            r.trajectory().forEach(p -> t.addObject().put("step", p.step()).put("eval_logps_chosen", p.logpsChosen())
                    .put("eval_logps_rejected", p.logpsRejected()));
        }
        return a;
    }

    private static ObjectNode outcome(Outcome o, Outcome reference) {
        ObjectNode n = JSON.createObjectNode();
        n.put("eval_pairs", o.evalPairs());
        n.put("eval_logps_chosen", o.logpsChosen());
        n.put("eval_logps_rejected", o.logpsRejected());
        for (Metric m : METRICS) {
            Double v = m.value().of(o, reference);
            if (v != null) {
                n.put(m.key(), v);
            }
        }
        if (o.goldExactMatch() != null) {
            n.put("gold_prompts", o.goldPrompts());
        }
        return n;
    }

    /**
     * {@code git rev-parse HEAD} of the working directory, marked when tracked files have changes;
     * else "unknown". Taken when a study starts: the code that trains is the code of that moment.
     */
    static String codeVersion() {
        String head = git("rev-parse", "HEAD");
        if (head == null) {
            return "unknown (not run from a git checkout)";
        }
        String status = git("status", "--porcelain", "--untracked-files=no");
        return head + (status == null || status.isEmpty() ? "" : " with uncommitted changes");
    }

    private static String git(String... args) {
        List<String> command = new ArrayList<>(List.of("git"));
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                out = in.lines().collect(Collectors.joining("\n")).strip();
            }
            return p.waitFor() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
