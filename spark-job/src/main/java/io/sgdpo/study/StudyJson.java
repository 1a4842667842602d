package io.sgdpo.study;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.pipeline.Outcome;
import io.sgdpo.study.StudyJob.DatasetResult;
import io.sgdpo.study.StudyJob.RunResult;
import io.sgdpo.study.StudyReport.Study;
import io.sgdpo.study.StudyStatistics.Metric;
import java.io.IOException;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;

/** The study's {@code study.json}: every number of every run, with the settings of each data set. */
final class StudyJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private StudyJson() {
    }

    /** {@code study.json}: every number of every run. */
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
            StudyStatistics.summary(d.runs(), d.reference(), s.losses()).forEach((loss, stats) -> {
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
        for (Metric m : StudyStatistics.METRICS) {
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
}
