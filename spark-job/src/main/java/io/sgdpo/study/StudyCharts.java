package io.sgdpo.study;

import io.sgdpo.study.StudyJob.DatasetResult;
import io.sgdpo.train.MetricsFiles;
import java.awt.Color;
import java.io.IOException;
import java.util.List;
import java.util.TreeMap;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;

/** The study's charts: per data set, the eval log-prob changes over training, one line per loss. */
final class StudyCharts {

    private StudyCharts() {
    }

    static String trajectoryFile(DatasetResult d) {
        return "trajectories-" + d.dataset().name() + ".png";
    }

    /**
     * Two charts: the change since step 0 of the chosen and of the rejected eval log-probs, one
     * line per loss (the mean over its seeds at each evaluated step).
     */
    static void writeTrajectories(FileSystem fs, DatasetResult d, List<String> losses, Path png)
            throws IOException {
        XYChart chosen = MetricsFiles.chart(d.dataset().name() + ": Δ log p chosen (eval)", "nats since step 0");
        XYChart rejected = MetricsFiles.chart(d.dataset().name() + ": Δ log p rejected (eval)", "nats since step 0");
        Color[] palette = chosen.getStyler().getSeriesColors();
        int i = 0;
        for (String loss : losses) {
            TreeMap<Long, double[]> mean = StudyStatistics.meanTrajectory(d.runs().stream().filter(r -> r.loss().equals(loss))
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
}
