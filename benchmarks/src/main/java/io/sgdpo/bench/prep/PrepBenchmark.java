package io.sgdpo.bench.prep;

import io.sgdpo.cli.SparkSessions;
import io.sgdpo.report.Machine;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.config.SgdpoConfig;
import io.sgdpo.prep.InputFormat;
import io.sgdpo.prep.PairEncoder;
import io.sgdpo.prep.ParsedRecord;
import io.sgdpo.prep.PrepJob;
import io.sgdpo.prep.PrepOutcome;
import io.sgdpo.prep.PrepSettings;
import io.sgdpo.prep.RecordParser;
import io.sgdpo.prep.SplitRule;
import io.sgdpo.prep.tokenize.Segmenter;
import io.sgdpo.prep.tokenize.Segmenters;
import io.sgdpo.prep.tokenize.TokenizerSpec;
import io.sgdpo.prep.tokenize.Vocabulary;
import org.apache.spark.sql.SparkSession;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Throughput of the whole prep job on local[1] and local[2] against a plain single-threaded Java
 * loop doing the same parse, dedupe, vocabulary count, tokenize and truncate on the same records
 * (the loop writes no Parquet and computes no input checksum: it is the work Spark parallelizes).
 *
 * <p>Input: the HH-RLHF test file replicated {@code --copies} times; each copy tags its prompts
 * ("[copy k]") so that copies are distinct pairs rather than duplicates. Reports every figure of
 * {@code --repeats} timed runs per variant (variants take turns, after one untimed warm-up round) with
 * its median, min and max ({@link RepeatFigures}), and the ratios of the medians, in
 * {@code OUT/prep.json}, and the medians as a line appended to {@code OUT/prep.md}.
 *
 * <pre>sgdpo bench-prep [--hh FILE] [--copies 12] [--repeats 3] [--out bench] [--work bench/out]</pre>
 */
public final class PrepBenchmark {

    private PrepBenchmark() {
    }

    public static void main(String[] args) throws IOException {
        System.exit(run(args, System.out));
    }

    public static void help(PrintStream s) {
        s.println("Usage: sgdpo bench-prep [--hh FILE] [--copies N] [--repeats R] [--out DIR] [--work DIR]");
        s.println("  --hh FILE     HH-RLHF jsonl.gz (default ../shared/data/hh-rlhf/harmless-base-test.jsonl.gz)");
        s.println("  --copies N    replicate the file N times with distinct prompts (default 12)");
        s.println("  --repeats R   timed runs per variant; median, min and max reported (default 3)");
        s.println("  --out DIR     where prep.json and prep.md go (default bench)");
        s.println("  --work DIR    scratch folder for input and outputs (default bench/out)");
    }

    /** Runs the benchmark; returns the exit code. */
    public static int run(String[] args, PrintStream out) throws IOException {
        Path hh = Path.of(System.getProperty("sgdpo.shared.data", "../shared/data"), "hh-rlhf/harmless-base-test.jsonl.gz");
        int copies = 12;
        int repeats = 3;
        Path outDir = Path.of("bench");
        Path work = Path.of("bench/out");
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--help", "-h" -> {
                    help(out);
                    return 0;
                }
                case "--hh" -> hh = Path.of(args[++i]);
                case "--copies" -> copies = Integer.parseInt(args[++i]);
                case "--repeats" -> repeats = Integer.parseInt(args[++i]);
                case "--out" -> outDir = Path.of(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                default -> {
                    out.println("bench-prep: unknown argument " + args[i]);
                    help(out);
                    return 2;
                }
            }
        }
        if (!Files.isRegularFile(hh)) {
            out.println("bench-prep: HH file not found: " + hh + " (pass --hh FILE)");
            return 1;
        }
        Files.createDirectories(work);
        Path input = work.resolve("hh-x" + copies + ".jsonl");
        long records = replicate(hh, copies, input);
        out.printf("bench-prep: %d records (%d copies of %s) in %s%n", records, copies, hh.getFileName(), input);

        Config config = SgdpoConfig.load(null, Map.of());
        PrepSettings settings = PrepSettings.from(config);

        double loadBefore = java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
        // Variants take turns within each round, after one warm-up of each: the JIT keeps warming
        // up over the first Spark runs, and running one variant's repeats back to back would hand
        // that warm-up to whichever variant came last.
        Variant loop = new Variant("java loop, 1 thread", null);
        List<Variant> variants = List.of(loop, new Variant("spark local[1]", "local[1]"),
                new Variant("spark local[2]", "local[2]"));
        for (int round = 0; round <= repeats; round++) {
            for (Variant v : variants) {
                double sec = v.master == null ? loopOnce(input, settings)
                        : sparkRun(v.master, input, work.resolve("run-" + v.master.replaceAll("\\W", "")), config);
                if (round == 0) {
                    out.printf("  %-22s warm-up: %.2f s%n", v.name, sec);
                } else {
                    v.seconds.add(sec);
                    out.printf("  %-22s run %d: %.2f s%n", v.name, round, sec);
                }
            }
        }

        ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode root = om.createObjectNode();
        root.put("benchmark", "prep");
        root.put("date", Instant.now().toString());
        root.put("command", "./sgdpo bench-prep --copies " + copies + " --repeats " + repeats);
        ObjectNode machine = (ObjectNode) root.set("machine", Machine.describe()).get("machine");
        // Other processes on the machine skew every figure: the 1-minute load average tells.
        machine.put("loadAverage1mBefore", round(loadBefore));
        machine.put("loadAverage1mAfter", round(
                java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
        ObjectNode in = root.putObject("input");
        in.put("source", hh.getFileName().toString());
        in.put("copies", copies);
        in.put("records", records);
        in.put("bytes", Files.size(input));
        root.put("repeats", repeats);
        root.put("tokenizer", TokenizerSpec.fromConfig(config, new org.apache.hadoop.conf.Configuration()).identity());
        root.put("vocabSize", settings.vocabSize());
        Map<String, String> figures = new LinkedHashMap<>();
        figures.put("seconds", "wall-clock seconds of one timed run (loop: in memory; Spark: the whole job,"
                + " session start and stop excluded)");
        figures.put("pairsPerSecond", "input records / seconds of that run");
        RepeatFigures.describe(root, figures, "pairsPerSecond", List.of(
                new RepeatFigures.Ratio("local[1]/loop", variants.get(1).name, loop.name),
                new RepeatFigures.Ratio("local[2]/loop", variants.get(2).name, loop.name),
                new RepeatFigures.Ratio("local[2]/local[1]", variants.get(2).name, variants.get(1).name)));
        ArrayNode res = root.putArray(RepeatFigures.RESULTS);
        Map<String, Double> pairsPerSecond = new HashMap<>();
        for (Variant v : variants) {
            double[] seconds = v.seconds.stream().mapToDouble(Double::doubleValue).toArray();
            RepeatFigures f = new RepeatFigures().add("seconds", seconds).addRate("pairsPerSecond", records, seconds);
            ObjectNode n = res.addObject();
            n.put(RepeatFigures.VARIANT, v.name);
            n.put("medianSeconds", round(f.median("seconds")));
            n.put("pairsPerSecond", Math.round(f.median("pairsPerSecond")));
            f.writeTo(n);
            pairsPerSecond.put(v.name, f.median("pairsPerSecond"));
        }
        // Throughput ratios of medians (> 1 = the numerator is faster).
        double base = pairsPerSecond.get(loop.name);
        double l1 = pairsPerSecond.get(variants.get(1).name);
        double l2 = pairsPerSecond.get(variants.get(2).name);
        ObjectNode ratios = root.putObject("ratios");
        ratios.put("local1_vs_loop", round(l1 / base));
        ratios.put("local2_vs_loop", round(l2 / base));
        ratios.put("local2_vs_local1", round(l2 / l1));
        root.put("note", "ratios are throughput ratios of medians measured in this run (> 1 = faster than the"
                + " denominator). The loop does parse + dedupe + vocabulary count + tokenize + truncate in memory;"
                + " the Spark job also checksums the input and writes Parquet pairs, rejects, vocab and manifest.");

        Files.createDirectories(outDir);
        Files.writeString(outDir.resolve("prep.json"), om.writeValueAsString(root) + "\n");
        Path md = outDir.resolve("prep.md");
        if (!Files.exists(md)) {
            Files.writeString(md, "# prep benchmark\n\nPairs/s of `sgdpo prep` over the HH-RLHF test file replicated,"
                    + " median of repeats; ratios of medians from the same run. See prep.json for every figure.\n\n"
                    + "| date | cores | load before/after | records | java loop pairs/s | local[1] pairs/s |"
                    + " local[2] pairs/s | local[1]/loop | local[2]/loop | local[2]/local[1] | command |\n"
                    + "|---|---|---|---|---|---|---|---|---|---|---|\n");
        }
        String line = String.format("| %s | %d | %.1f / %.1f | %d | %d | %d | %d | %.2f | %.2f | %.2f | `%s` |%n",
                root.path("date").asText().substring(0, 16), machine.path("cores").asInt(),
                machine.path("loadAverage1mBefore").asDouble(), machine.path("loadAverage1mAfter").asDouble(), records,
                Math.round(base), Math.round(l1), Math.round(l2), l1 / base, l2 / base, l2 / l1,
                root.path("command").asText());
        Files.writeString(md, line, StandardOpenOption.APPEND);
        out.print(om.writeValueAsString(root.path("results")) + "\n");
        out.println("ratios: " + ratios);
        out.println("wrote " + outDir.resolve("prep.json") + " and a line in " + md);
        return 0;
    }

    /** Writes {@code copies} tagged copies of every HH record as plain JSONL; returns the record count. */
    public static long replicate(Path hh, int copies, Path out) throws IOException {
        List<String> lines = new ArrayList<>();
        try (InputStream raw = Files.newInputStream(hh);
             BufferedReader r = new BufferedReader(new InputStreamReader(
                     hh.toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw, StandardCharsets.UTF_8))) {
            String l;
            while ((l = r.readLine()) != null) {
                lines.add(l);
            }
        }
        ObjectMapper om = new ObjectMapper();
        long n = 0;
        try (BufferedWriter w = Files.newBufferedWriter(out, StandardCharsets.UTF_8)) {
            for (int k = 0; k < copies; k++) {
                for (String l : lines) {
                    String tagged = l;
                    try {
                        ObjectNode o = (ObjectNode) om.readTree(l);
                        for (String f : List.of("chosen", "rejected")) {
                            o.put(f, o.path(f).asText().replaceFirst("Human: ", "Human: [copy " + k + "] "));
                        }
                        tagged = om.writeValueAsString(o);
                    } catch (IOException | ClassCastException e) {
                        // keep a bad line as it is: it is rejected the same way in every variant
                    }
                    w.write(tagged);
                    w.write('\n');
                    n++;
                }
            }
        }
        return n;
    }

    /** The single-threaded baseline; returns seconds. */
    static double loopOnce(Path input, PrepSettings s) throws IOException {
        long t0 = System.nanoTime();
        RecordParser parser = s.parser();
        TokenizerSpec spec = TokenizerSpec.gpt2();
        List<ParsedRecord> kept = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        long line = 0;
        for (byte[] bytes : readLines(input)) {
            ParsedRecord p = parser.parse(bytes, InputFormat.HH, input.toString(), 0, ++line);
            if (p.isPair() && seen.add(p.pairId)) {
                kept.add(p);
            }
        }
        Segmenter seg = Segmenters.get(spec);
        SplitRule splits = SplitRule.byHash(s.evalFraction());
        Map<String, Long> counts = new HashMap<>();
        for (ParsedRecord p : kept) {
            if (splits.isTrain(p.fileIndex, p.pairId)) {
                for (String text : new String[]{p.prompt, p.chosen, p.rejected}) {
                    for (String piece : seg.segment(text)) {
                        if (piece.length() > 1) {
                            counts.merge(piece, 1L, Long::sum);
                        }
                    }
                }
            }
        }
        PairEncoder encoder = new PairEncoder(Vocabulary.fromCounts(spec, counts, s.vocabSize()), s, splits);
        long ids = 0;
        for (ParsedRecord p : kept) {
            PrepOutcome o = encoder.encode(p);
            ids += o.isPair() ? o.promptIds.length + o.chosenIds.length + o.rejectedIds.length : 0;
        }
        if (ids == 0) {
            throw new IllegalStateException("baseline produced no tokens");
        }
        return (System.nanoTime() - t0) / 1e9;
    }

    /** One timed job run in a fresh session (session start and stop are not timed); returns seconds. */
    static double sparkRun(String master, Path input, Path output, Config config) throws IOException {
        deleteRecursively(output);
        SparkSession spark = SparkSessions.start("bench-prep", Map.of("spark.master", master,
                "spark.ui.enabled", "false"));
        try {
            long t0 = System.nanoTime();
            PrepJob.run(spark, List.of(input.toAbsolutePath().toString()), output.toAbsolutePath().toString(), config);
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            spark.stop();
            deleteRecursively(output);
        }
    }

    private static List<byte[]> readLines(Path p) throws IOException {
        byte[] all = Files.readAllBytes(p);
        List<byte[]> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < all.length; i++) {
            if (all[i] == '\n') {
                out.add(Arrays.copyOfRange(all, start, i));
                start = i + 1;
            }
        }
        if (start < all.length) {
            out.add(Arrays.copyOfRange(all, start, all.length));
        }
        return out;
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static double round(double x) {
        return Math.round(x * 1000) / 1000.0;
    }

    private static final class Variant {
        final String name;
        final String master;
        final List<Double> seconds = new ArrayList<>();

        Variant(String name, String master) {
            this.name = name;
            this.master = master;
        }
    }
}
