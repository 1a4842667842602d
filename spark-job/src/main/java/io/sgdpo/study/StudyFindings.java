package io.sgdpo.study;

import io.sgdpo.study.StudyStatistics.MeanStd;
import io.sgdpo.study.StudyStatistics.Metric;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The study's findings: sentences computed from the summary table, with SGDPO's standing against the seeds' spread. */
final class StudyFindings {
    private static final String SGDPO = "sgdpo";

    private StudyFindings() {
    }

    /**
     * Sentences that read the table: which loss leads each metric, where SGDPO stands (including
     * where it does not win, with the gap against the seeds' spread), and how the log-probs moved.
     */
    static List<String> findings(Map<String, Map<String, MeanStd>> summary, boolean gold) {
        List<String> out = new ArrayList<>();
        for (Metric m : StudyStatistics.METRICS) {
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
}
