package io.sgdpo.train;

import com.typesafe.config.Config;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.prep.PrepJob;
import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.apache.spark.sql.SparkSession;

/** Preps the first records of the shared HH-RLHF file with small lengths, for training tests. */
public final class HhSlice {

    private HhSlice() {
    }

    static File sharedFile(String relative) {
        String root = System.getProperty("sgdpo.shared.data");
        if (root == null) {
            throw new IllegalStateException("system property sgdpo.shared.data is not set (surefire sets it)");
        }
        File f = new File(root, relative);
        if (!f.isFile()) {
            throw new IllegalStateException("shared data file missing: " + f);
        }
        return f;
    }

    /** Preps {@code records} HH records into {@code out} and returns the config used. */
    static Config prep(SparkSession spark, File work, int records, Map<String, String> extra) throws IOException {
        File slice = write(work, records);
        Map<String, String> overrides = new java.util.HashMap<>(Map.of("prep.maxPromptLength", "24",
                "prep.maxTotalLength", "48", "tokenizer.vocabSize", "200", "prep.evalFraction", "0.15",
                "prep.maxRejectFraction", "0.5", "model.maxLength", "48", "model.dModel", "32",
                "model.layers", "1", "model.heads", "2"));
        overrides.putAll(extra);
        Config config = SgdpoConfig.load(null, overrides);
        PrepJob.run(spark, List.of(slice.getAbsolutePath()), new File(work, "prep").getAbsolutePath(), config);
        return config;
    }

    /** Copies the first {@code records} HH records to {@code work/hh-slice.jsonl}. */
    public static File write(File work, int records) throws IOException {
        File slice = new File(work, "hh-slice.jsonl");
        try (BufferedReader in = new BufferedReader(new InputStreamReader(new GZIPInputStream(
                new FileInputStream(sharedFile("hh-rlhf/harmless-base-test.jsonl.gz"))), StandardCharsets.UTF_8));
             PrintWriter out = new PrintWriter(slice, StandardCharsets.UTF_8)) {
            for (int i = 0; i < records; i++) {
                String line = in.readLine();
                if (line == null) {
                    break;
                }
                out.println(line);
            }
        }
        return slice;
    }
}
