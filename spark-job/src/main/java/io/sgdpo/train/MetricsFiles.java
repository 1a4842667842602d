package io.sgdpo.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;

/**
 * Writes a run's metric rows as Parquet (for Spark SQL and notebooks) and draws its curves as a
 * PNG: loss, eval reward accuracy, and chosen vs rejected rewards over steps. Its chart helpers
 * also draw the plots of {@code sgdpo report}, so every metrics plot looks alike.
 */
public final class MetricsFiles {

    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // Charts are drawn off screen, before any AWT class asks: a cluster node or CI has no display.
        System.setProperty("java.awt.headless", "true");
    }

    private MetricsFiles() {
    }

    /** Replaces {@code dir} with a Parquet table of the rows (written aside, then renamed). */
    public static void writeParquet(SparkSession spark, List<Map<String, Object>> rows, Path dir) throws IOException {
        List<String> lines = new ArrayList<>();
        for (Map<String, Object> r : rows) {
            lines.add(JSON.writeValueAsString(r));
        }
        Dataset<Row> table = spark.read().json(spark.createDataset(lines, Encoders.STRING()));
        FileSystem fs = dir.getFileSystem(spark.sparkContext().hadoopConfiguration());
        Path tmp = new Path(dir.getParent(), "_tmp-" + dir.getName());
        table.coalesce(1).write().mode("overwrite").parquet(tmp.toString());
        if (fs.exists(dir)) {
            fs.delete(dir, true);
        }
        if (!fs.rename(tmp, dir)) {
            throw new IOException("could not rename " + tmp + " to " + dir);
        }
    }

    /** Draws the curves of the rows into a PNG file. */
    public static void writeChart(FileSystem fs, List<Map<String, Object>> rows, Path png, String title)
            throws IOException {
        XYChart loss = chart(title + ": loss", "loss");
        addSeries(loss, rows, "loss", "train");
        addSeries(loss, rows, "eval_loss", "eval");
        XYChart accuracy = chart("reward accuracy", "accuracy");
        addSeries(accuracy, rows, "rewards/accuracies", "train");
        addSeries(accuracy, rows, "eval_rewards/accuracies", "eval");
        XYChart rewards = chart("rewards (eval)", "reward");
        addSeries(rewards, rows, "eval_rewards/chosen", "chosen");
        addSeries(rewards, rows, "eval_rewards/rejected", "rejected");
        savePng(fs, List.of(loss, accuracy, rewards), png);
    }

    /** An empty chart of a metric over training steps, in the style of every metrics plot. */
    public static XYChart chart(String title, String yAxis) {
        XYChart c = new XYChartBuilder().width(480).height(360).title(title).xAxisTitle("step").yAxisTitle(yAxis).build();
        c.getStyler().setMarkerSize(4);
        return c;
    }

    /**
     * Adds the series of {@code key} over {@code step} from the rows that carry a finite value of it
     * (train rows lack the eval_ keys and the other way round); adds nothing when none does.
     */
    public static Optional<XYSeries> addSeries(XYChart chart, List<Map<String, Object>> rows, String key,
                                               String name) {
        List<Double> x = new ArrayList<>();
        List<Double> y = new ArrayList<>();
        for (Map<String, Object> r : rows) {
            if (r.get(key) instanceof Number v && Double.isFinite(v.doubleValue())) {
                x.add(((Number) r.get("step")).doubleValue());
                y.add(v.doubleValue());
            }
        }
        return x.isEmpty() ? Optional.empty() : Optional.of(chart.addSeries(name, x, y));
    }

    /** Writes the charts side by side, in one row, as one PNG file. */
    public static void savePng(FileSystem fs, List<XYChart> charts, Path png) throws IOException {
        try (OutputStream out = fs.create(png, true)) {
            BitmapEncoder.saveBitmap(charts, 1, charts.size(), out, BitmapEncoder.BitmapFormat.PNG);
        }
    }
}
