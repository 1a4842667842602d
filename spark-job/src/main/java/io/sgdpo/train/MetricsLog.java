package io.sgdpo.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import io.sgdpo.output.AtomicOutput;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * A run's metrics as JSON Lines, one row per step or epoch. Every append rewrites the file under a
 * temporary name and renames it, so a reader (a notebook, a crash) never sees a half-written row,
 * and a resumed run continues the rows its checkpoint had.
 */
public final class MetricsLog {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final FileSystem fs;
    private final Path file;
    private final List<Map<String, Object>> rows = new ArrayList<>();

    private MetricsLog(FileSystem fs, Path file) {
        this.fs = fs;
        this.file = file;
    }

    /** The log at {@code file}, with the rows it already has (a resumed run). */
    @SuppressWarnings("unchecked")
    public static MetricsLog open(FileSystem fs, Path file) throws IOException {
        MetricsLog log = new MetricsLog(fs, file);
        if (fs.exists(file)) {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(fs.open(file), StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    if (!line.isBlank()) {
                        log.rows.add(JSON.readValue(line, LinkedHashMap.class));
                    }
                }
            }
        }
        return log;
    }

    /** Keeps only the rows at or before a step (what a checkpoint being resumed from had seen). */
    public void truncateAfterStep(long step) throws IOException {
        rows.removeIf(r -> ((Number) r.get("step")).longValue() > step);
        write();
    }

    public void append(Map<String, Object> row) throws IOException {
        rows.add(new LinkedHashMap<>(row));
        write();
    }

    public List<Map<String, Object>> rows() {
        return List.copyOf(rows);
    }

    private void write() throws IOException {
        StringBuilder text = new StringBuilder();
        for (Map<String, Object> r : rows) {
            text.append(JSON.writeValueAsString(r)).append('\n');
        }
        AtomicOutput.replaceString(fs, file, text.toString());
    }
}
