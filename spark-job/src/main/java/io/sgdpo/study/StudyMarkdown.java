package io.sgdpo.study;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigRenderOptions;
import io.sgdpo.pipeline.Outcome;
import io.sgdpo.study.StudyJob.DatasetResult;
import io.sgdpo.study.StudyJob.RunResult;
import io.sgdpo.study.StudyReport.Study;
import io.sgdpo.study.StudyStatistics.MeanStd;
import io.sgdpo.study.StudyStatistics.Metric;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** The study's {@code study.md}: the setting, how each column is measured, and per data set the table, findings and sweep. */
final class StudyMarkdown {

    private StudyMarkdown() {
    }

    /** The report's Markdown: how each number is measured, then per data set the table, findings and sweep. */
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
        md.append("\nEvery number of every run is in " + StudyReport.JSON_FILE + "; every setting in "
                + StudyReport.CONFIG_FILE + ".\n");

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
            Map<String, Map<String, MeanStd>> summary = StudyStatistics.summary(d.runs(), d.reference(), s.losses());
            table(md, d.reference(), summary, gold);
            md.append("\n![eval log-prob changes over training](").append(StudyCharts.trajectoryFile(d)).append(")\n\n");
            md.append("Findings:\n\n");
            StudyFindings.findings(summary, gold).forEach(f -> md.append("- ").append(f).append('\n'));
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
        List<Metric> shown = StudyStatistics.METRICS.stream().filter(m -> gold || !m.goldOnly()).toList();
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

    private static void sweep(StringBuilder md, DatasetResult d, StudySettings.Sweep s) {
        md.append(String.format(Locale.ROOT, "%n### SGDPO pilot ratios on %s%n%nOne SGDPO run per (r1, r2) and"
                        + " seed %s, same reference, steps and batch as above. Each cell: mean over the seeds%s.%n",
                d.dataset().name(), s.seeds(), s.seeds().size() > 1 ? " ± standard deviation" : ""));
        boolean gold = d.reference().goldExactMatch() != null;
        for (Metric m : StudyStatistics.METRICS) {
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
            Metric m = StudyStatistics.METRICS.stream().filter(x -> x.key().equals(key)).findFirst().orElseThrow();
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
}
