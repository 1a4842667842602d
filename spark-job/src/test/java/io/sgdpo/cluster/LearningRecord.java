package io.sgdpo.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.report.Machine;
import io.sgdpo.pipeline.Outcome;
import io.sgdpo.train.MetricsFiles;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.knowm.xchart.XYChart;

/**
 * The record of ClusterIT's learning comparison on the demo's arithmetic task: the same SGDPO run
 * in local mode and on the loopback cluster with each training master, as a table (Markdown and
 * JSON) of the eval reward accuracy at every eval step and the gold exact match, and one PNG of the
 * eval curves. Written to {@code spark-job/target/cluster-learning/} on every run, and to
 * {@code bench/cluster/} by {@code bench/cluster.sh learn}.
 */
final class LearningRecord {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One training run: its metrics rows (those with eval figures) and its evaluation with gold answers. */
    record Run(String name, String how, File dir, double seconds, List<JsonNode> evalRows, Outcome outcome) {

        double finalAccuracy() {
            return evalRows.get(evalRows.size() - 1).get("eval_rewards/accuracies").asDouble();
        }

        static List<JsonNode> evalRows(File run) throws IOException {
            List<JsonNode> rows = new ArrayList<>();
            for (String l : Files.readAllLines(new File(run, "metrics/train.jsonl").toPath())) {
                JsonNode r = JSON.readTree(l);
                if (r.has("eval_rewards/accuracies")) {
                    rows.add(r);
                }
            }
            return rows;
        }
    }

    private LearningRecord() {
    }

    /**
     * Writes learn.md, learn.json and learn.png into {@code dir}.
     *
     * @param settings  what the runs share, one line each (task, reference, training)
     * @param reference the reference policy's evaluation (gold exact match before training)
     * @param checks    the assertions, as sentences, each with its figures
     */
    static void write(File dir, String command, String commit, Boolean dirty, List<String> settings,
                      Outcome reference, List<Run> runs, List<String> checks, double seconds)
            throws IOException {
        Files.createDirectories(dir.toPath());
        ObjectNode machine = Machine.describe();
        double load = loadAverage();
        ObjectNode root = JSON.createObjectNode();
        root.put("record", "cluster-learning");
        root.put("date", java.time.Instant.now().toString());
        root.put("command", command);
        ObjectNode code = root.putObject("code");
        code.put("commit", commit);
        if (dirty != null) {
            code.put("uncommittedChanges", dirty);
        }
        machine.put("loadAverage1mAtEnd", load);
        root.set("machine", machine);
        settings.forEach(root.putArray("settings")::add);
        root.put("referenceGoldExactMatch", reference.goldExactMatch());
        ArrayNode runsJson = root.putArray("runs");
        TreeSet<Long> steps = new TreeSet<>();
        for (Run r : runs) {
            ObjectNode n = runsJson.addObject();
            n.put("name", r.name());
            n.put("how", r.how());
            n.put("seconds", Math.round(r.seconds() * 10) / 10.0);
            ArrayNode curve = n.putArray("eval");
            for (JsonNode e : r.evalRows()) {
                steps.add(e.get("step").asLong());
                ObjectNode p = curve.addObject();
                p.put("step", e.get("step").asLong());
                for (String k : List.of("eval_rewards/accuracies", "eval_rewards/margins", "eval_rewards/chosen",
                        "eval_rewards/rejected", "eval_loss")) {
                    p.put(k, e.get(k).asDouble());
                }
            }
            Outcome o = r.outcome();
            n.put("goldExactMatch", o.goldExactMatch());
            n.put("goldPrompts", o.goldPrompts());
            n.put("carryingExactMatch", o.carryingExactMatch());
            n.put("otherExactMatch", o.otherExactMatch());
            n.put("evalRewardAccuracy", o.rewardAccuracy());
            n.put("evalMargin", o.rewardMargin());
            n.put("evalPairs", o.evalPairs());
        }
        checks.forEach(root.putArray("checks")::add);
        root.put("seconds", Math.round(seconds));
        Files.writeString(new File(dir, "learn.json").toPath(),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");

        StringBuilder md = new StringBuilder("# Training across executors against training in one JVM\n\n");
        md.append(String.format(Locale.ROOT, "`%s` on %s; %s; code %s%s; 1-minute load average at the end %.1f "
                        + "(other processes shared the cores: seconds are for orientation only).%n%n", command,
                Machine.line(), java.time.LocalDate.now(), commit == null ? "unknown commit" : "`" + commit + "`",
                dirty == null ? "" : dirty ? " with uncommitted changes" : ", clean tree", load));
        settings.forEach(s -> md.append("- ").append(s).append('\n'));
        md.append('\n');
        md.append("Eval reward accuracy (").append(reference.evalPairs()).append(" held-out pairs) at each eval step,"
                + " and the greedy answers' gold exact match on ").append(reference.goldPrompts())
                .append(" held-out prompts (the reference: ")
                .append(String.format(Locale.ROOT, "%.3f", reference.goldExactMatch())).append("):\n\n");
        md.append("| run | how |");
        steps.forEach(s -> md.append(" step ").append(s).append(" |"));
        md.append(" eval margin | gold exact match | carrying | other | seconds |\n|---|---|");
        steps.forEach(s -> md.append("---|"));
        md.append("---|---|---|---|---|\n");
        for (Run r : runs) {
            Map<Long, Double> byStep = new LinkedHashMap<>();
            r.evalRows().forEach(e -> byStep.put(e.get("step").asLong(), e.get("eval_rewards/accuracies").asDouble()));
            md.append("| ").append(r.name()).append(" | ").append(r.how()).append(" |");
            steps.forEach(s -> md.append(byStep.containsKey(s) ? String.format(Locale.ROOT, " %.3f |", byStep.get(s))
                    : " - |"));
            Outcome o = r.outcome();
            md.append(String.format(Locale.ROOT, " %.3f | %.3f | %.3f | %.3f | %.0f |%n", o.rewardMargin(),
                    o.goldExactMatch(), o.carryingExactMatch(), o.otherExactMatch(), r.seconds()));
        }
        md.append("\nChecked:\n\n");
        checks.forEach(c -> md.append("- ").append(c).append('\n'));
        md.append("\n![eval curves](learn.png)\n\nThe same figures, with each eval row's margin and rewards: "
                + "[learn.json](learn.json).\n");
        Files.writeString(new File(dir, "learn.md").toPath(), md.toString());

        XYChart accuracy = MetricsFiles.chart("SGDPO on the arithmetic task: eval reward accuracy", "accuracy");
        XYChart margin = MetricsFiles.chart("eval reward margin", "margin");
        for (Run r : runs) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (JsonNode e : r.evalRows()) {
                rows.add(JSON.convertValue(e, Map.class));
            }
            MetricsFiles.addSeries(accuracy, rows, "eval_rewards/accuracies", r.name());
            MetricsFiles.addSeries(margin, rows, "eval_rewards/margins", r.name());
        }
        FileSystem fs = FileSystem.getLocal(new Configuration()).getRaw(); // no .crc files beside the PNG
        MetricsFiles.savePng(fs, List.of(accuracy, margin), new Path(new File(dir, "learn.png").getAbsolutePath()));
    }

    private static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(new File("/proc/loadavg").toPath()).split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }
}
