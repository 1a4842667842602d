package io.sgdpo.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.report.Machine;
import io.sgdpo.bench.prep.RepeatFigures;
import io.sgdpo.bench.train.PeerComparison;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;

/**
 * {@code sgdpo bench-report}: one summary of a {@code bench/run}, from the JSON files that
 * {@code bench-prep}, {@code bench-ref-logps} and {@code bench-train} wrote into one folder.
 *
 * <p>For every variant of every benchmark it takes the per-repeat values of each figure (the
 * {@link RepeatFigures} layout) and reports their median, min and max, and the ratios of medians
 * that the benchmark declares, all from the same run. Writes {@link #MARKDOWN} and {@link #JSON}
 * into the output folder with the machine (cores, CPU model, memory, OS, JVM, load average), the
 * command line and the code version, and copies each benchmark's own JSON into {@link #RAW_DIR}.
 * Every input is read and checked before anything is written, so a bad input leaves the previous
 * results in place; an input that is missing or malformed is an error naming the file.
 */
public final class BenchReport {

    /** The benchmarks a report needs, as the base names of their JSON files. */
    public static final List<String> BENCHMARKS = List.of("prep", "ref-logps", "train");
    /**
     * Benchmarks a report takes when their JSON is there: {@code peer} (bench-peer, the project
     * against PyTorch), whose ratio table and goals ({@link PeerComparison}) head the report.
     */
    public static final List<String> OPTIONAL = List.of("peer");
    /** The Markdown summary in the output folder. */
    public static final String MARKDOWN = "RESULTS.md";
    /** The JSON summary in the output folder. */
    public static final String JSON = "results.json";
    /** Where each benchmark's own JSON is copied, relative to the output folder. */
    public static final String RAW_DIR = "results";

    /** Top-level keys of a benchmark's JSON that are shown as figures and ratios, not as set-up. */
    private static final Set<String> NOT_SETUP = Set.of("benchmark", "date", "command", "note",
            RepeatFigures.FIGURES, RepeatFigures.RATIO_FIGURE, RepeatFigures.RATIO_DEFINITIONS, RepeatFigures.RESULTS,
            "ratios", "shapes", "comparison");

    private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * What bench/run knows about itself and passes in: the command line as typed, the code version,
     * when it started and the load average before the first benchmark. Any of them may be null.
     */
    public record RunInfo(String command, String commit, Boolean dirty, String started, Double loadBefore) {
    }

    private BenchReport() {
    }

    /**
     * Reads {@link #BENCHMARKS} (and those of {@link #OPTIONAL} that are there) from {@code in},
     * writes the report into {@code out}; returns the Markdown file.
     */
    public static Path write(Path in, Path out, RunInfo run, PrintStream log) throws IOException {
        Map<String, JsonNode> inputs = new LinkedHashMap<>();
        List<ObjectNode> summaries = new ArrayList<>();
        List<String> names = new ArrayList<>(BENCHMARKS);
        for (String name : OPTIONAL) {
            if (Files.exists(in.resolve(name + ".json"))) {
                names.add(name);
            }
        }
        for (String name : names) {
            Path file = in.resolve(name + ".json");
            JsonNode root = read(file);
            inputs.put(name, root);
            summaries.add(summarise(name, file, root));
        }

        ObjectNode report = MAPPER.createObjectNode();
        Instant now = Instant.now();
        report.put("date", now.toString());
        report.put("started", run.started());
        report.put("command", run.command());
        ObjectNode code = report.putObject("code");
        code.put("commit", run.commit());
        if (run.dirty() != null) {
            code.put("uncommittedChanges", run.dirty());
        }
        report.set("machine", machine(run.loadBefore()));
        ObjectNode benchmarks = report.putObject("benchmarks");
        for (ObjectNode s : summaries) {
            benchmarks.set(s.path("benchmark").asText(), s);
        }
        if (inputs.containsKey("peer")) {
            report.set("peerComparison", PeerComparison.compare(inputs.get("peer")));
        }

        Files.createDirectories(out.resolve(RAW_DIR));
        for (String name : names) {
            Files.copy(in.resolve(name + ".json"), out.resolve(RAW_DIR).resolve(name + ".json"),
                    StandardCopyOption.REPLACE_EXISTING);
        }
        Path json = out.resolve(JSON);
        Files.writeString(json, MAPPER.writeValueAsString(report) + "\n", StandardCharsets.UTF_8);
        Path md = out.resolve(MARKDOWN);
        Files.writeString(md, markdown(report, inputs, now), StandardCharsets.UTF_8);
        log.println("bench-report: wrote " + md + ", " + json + " and " + out.resolve(RAW_DIR) + "/{"
                + String.join(",", names) + "}.json");
        return md;
    }

    private static JsonNode read(Path file) throws IOException {
        try {
            JsonNode root = MAPPER.readTree(Files.readString(file, StandardCharsets.UTF_8));
            if (root == null || !root.isObject()) {
                throw new IOException(file + ": not a JSON object");
            }
            return root;
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": missing (did its benchmark run and finish?)", e);
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": malformed JSON: " + e.getOriginalMessage(), e);
        }
    }

    /** Checks one benchmark's JSON and computes its summary: per variant and figure median, min, max; ratios. */
    static ObjectNode summarise(String name, Path file, JsonNode root) throws IOException {
        ObjectNode s = MAPPER.createObjectNode();
        s.put("benchmark", name);
        s.put("file", RAW_DIR + "/" + name + ".json");
        s.put("command", text(file, root, "command"));
        s.put("date", root.path("date").asText(null));
        JsonNode machine = root.path("machine");
        for (String load : List.of("loadAverage1mBefore", "loadAverage1mAfter")) {
            if (machine.path(load).isNumber()) {
                s.put(load, machine.path(load).asDouble());
            }
        }
        JsonNode figures = root.path(RepeatFigures.FIGURES);
        if (!figures.isObject() || figures.isEmpty()) {
            throw new IOException(file + ": '" + RepeatFigures.FIGURES + "' must be a non-empty object"
                    + " (a file from before the bench-* commands recorded every repeat? run its benchmark again)");
        }
        List<String> figureNames = new ArrayList<>();
        figures.fieldNames().forEachRemaining(figureNames::add);
        s.set("figures", figures.deepCopy());
        String ratioFigure = text(file, root, RepeatFigures.RATIO_FIGURE);
        if (!figureNames.contains(ratioFigure)) {
            throw new IOException(file + ": '" + RepeatFigures.RATIO_FIGURE + "' " + ratioFigure
                    + " is not one of the figures " + figureNames);
        }
        s.put("ratioFigure", ratioFigure);

        JsonNode results = root.path(RepeatFigures.RESULTS);
        if (!results.isArray() || results.isEmpty()) {
            throw new IOException(file + ": '" + RepeatFigures.RESULTS + "' must be a non-empty array");
        }
        Map<String, Double> ratioMedians = new LinkedHashMap<>();
        var variants = s.putArray("variants");
        for (JsonNode v : results) {
            String variant = text(file, v, RepeatFigures.VARIANT);
            String where = file + ": variant '" + variant + "'";
            if (ratioMedians.containsKey(variant)) {
                throw new IOException(where + " appears twice");
            }
            ObjectNode out = variants.addObject();
            out.put("variant", variant);
            ObjectNode outFigures = out.putObject("figures");
            int repeats = -1;
            for (String figure : figureNames) {
                double[] values = numbers(where, v.path(RepeatFigures.PER_REPEAT).path(figure),
                        RepeatFigures.PER_REPEAT + "." + figure);
                if (repeats >= 0 && values.length != repeats) {
                    throw new IOException(where + ": " + RepeatFigures.PER_REPEAT + "." + figure + " has "
                            + values.length + " values, the other figures " + repeats);
                }
                repeats = values.length;
                double median = RepeatFigures.median(values);
                outFigures.putObject(figure).put("median", median).put("min", min(values)).put("max", max(values));
                if (figure.equals(ratioFigure)) {
                    ratioMedians.put(variant, median);
                }
            }
            out.put("repeats", repeats);
        }

        JsonNode definitions = root.path(RepeatFigures.RATIO_DEFINITIONS);
        if (!definitions.isArray()) {
            throw new IOException(file + ": '" + RepeatFigures.RATIO_DEFINITIONS + "' must be an array");
        }
        var ratios = s.putArray("ratios");
        for (JsonNode d : definitions) {
            String ratio = text(file, d, "name");
            String numerator = text(file, d, "numerator");
            String denominator = text(file, d, "denominator");
            for (String variant : List.of(numerator, denominator)) {
                if (!ratioMedians.containsKey(variant)) {
                    throw new IOException(file + ": ratio '" + ratio + "' names variant '" + variant
                            + "', which is not in " + RepeatFigures.RESULTS + " " + ratioMedians.keySet());
                }
            }
            ratios.addObject().put("name", ratio).put("numerator", numerator).put("denominator", denominator)
                    .put("value", ratioMedians.get(numerator) / ratioMedians.get(denominator));
        }
        return s;
    }

    private static String text(Path file, JsonNode node, String key) throws IOException {
        JsonNode v = node.path(key);
        if (!v.isTextual() || v.asText().isEmpty()) {
            throw new IOException(file + ": '" + key + "' must be a non-empty string");
        }
        return v.asText();
    }

    private static double[] numbers(String where, JsonNode array, String key) throws IOException {
        if (!array.isArray() || array.isEmpty()) {
            throw new IOException(where + ": '" + key + "' must be a non-empty array of numbers");
        }
        double[] values = new double[array.size()];
        for (int i = 0; i < values.length; i++) {
            if (!array.get(i).isNumber() || !Double.isFinite(array.get(i).asDouble())) {
                throw new IOException(where + ": '" + key + "' value " + i + " is not a finite number: "
                        + array.get(i));
            }
            values[i] = array.get(i).asDouble();
        }
        return values;
    }

    private static double min(double[] v) {
        double m = v[0];
        for (double x : v) {
            m = Math.min(m, x);
        }
        return m;
    }

    private static double max(double[] v) {
        double m = v[0];
        for (double x : v) {
            m = Math.max(m, x);
        }
        return m;
    }

    /** The machine the report runs on: the same one the benchmarks ran on, minutes earlier. */
    private static ObjectNode machine(Double loadBefore) {
        ObjectNode m = Machine.describe();
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (loadBefore != null) {
            m.put("loadAverage1mBefore", loadBefore);
        }
        double after = os.getSystemLoadAverage();
        if (after >= 0) {
            m.put("loadAverage1mAfter", Math.round(after * 100) / 100.0);
        }
        return m;
    }

    private static String markdown(ObjectNode report, Map<String, JsonNode> inputs, Instant now) {
        StringBuilder md = new StringBuilder("# Benchmark results\n\n");
        md.append("Written by `").append(report.path("command").asText("bench/run")).append("`, finished ")
                .append(report.path("date").asText().substring(0, 19).replace('T', ' ')).append(" UTC");
        String started = report.path("started").asText(null);
        if (started != null) {
            try {
                long minutes = Math.round(Duration.between(Instant.parse(started), now).toSeconds() / 60.0);
                md.append(" after about ").append(minutes).append(" min");
            } catch (DateTimeParseException e) {
                md.append(" (started ").append(started).append(")");
            }
        }
        md.append(".  \nCode: ");
        JsonNode code = report.path("code");
        md.append(code.path("commit").isTextual() ? "`" + code.path("commit").asText() + "`" : "unknown commit");
        if (code.has("uncommittedChanges")) {
            md.append(code.path("uncommittedChanges").asBoolean() ? " with uncommitted changes" : ", clean tree");
        }
        md.append(".\n\n## Machine\n\n| | |\n|---|---|\n");
        JsonNode m = report.path("machine");
        md.append("| cores | ").append(m.path("cores").asInt()).append(" |\n");
        md.append("| CPU | ").append(m.path("cpu").asText()).append(" |\n");
        if (m.has("memoryBytes")) {
            md.append(String.format(Locale.ROOT, "| memory | %.1f GiB |%n", m.path("memoryBytes").asDouble() / (1L << 30)));
        }
        md.append("| OS | ").append(m.path("os").asText()).append(" |\n");
        md.append("| JVM | ").append(m.path("jvm").asText()).append(" (").append(m.path("jvmVendor").asText())
                .append(") |\n");
        md.append("| 1-minute load average | ").append(m.has("loadAverage1mBefore")
                        ? fmt(m.path("loadAverage1mBefore").asDouble()) : "?").append(" before the first benchmark, ")
                .append(m.has("loadAverage1mAfter") ? fmt(m.path("loadAverage1mAfter").asDouble()) : "?")
                .append(" after the last |\n\n");
        md.append("Other processes on the machine slow every figure down: a load average well above 0 before the")
                .append(" run means the figures are pessimistic and the spread (min to max) wide.\n\n");

        if (report.has("peerComparison")) {
            JsonNode peer = inputs.get("peer");
            md.append("## Project against PyTorch\n\n");
            md.append("`").append(peer.path("command").asText()).append("`: the project and its PyTorch peer (")
                    .append(peer.path("torch").asText()).append(", bench/peer/torch_peer.py) on the same batch, ")
                    .append(peer.path("threads").asText()).append(" threads each, each figure in a fresh process,")
                    .append(" variants taking turns; float32 1024^3 matmul ")
                    .append(fmt(peer.path("matmul").path("nd4jGflops").asDouble())).append(" GFLOP/s (ND4J) and ")
                    .append(fmt(peer.path("matmul").path("pytorchGflops").asDouble())).append(" GFLOP/s (PyTorch).")
                    .append(" Shapes:\n\n");
            peer.path("shapes").fields().forEachRemaining(e -> md.append("- ").append(e.getKey()).append(": ")
                    .append(e.getValue().path("description").asText()).append("\n"));
            md.append("\n").append(PeerComparison.markdown(report.path("peerComparison"))).append("\n");
        }
        md.append("## How to read the tables\n\n");
        md.append("- **variant**: what ran (a plain loop in one JVM, or the job on Spark local[N])\n");
        md.append("- **figure**: which measurement; each benchmark lists what its figures mean\n");
        md.append("- **median**: the middle value over the variant's timed repeats (the mean of the two middle")
                .append(" ones for an even count); repeats follow one untimed warm-up round, variants taking turns\n");
        md.append("- **min**, **max**: the lowest and highest value over the same repeats\n");
        md.append("- **repeats**: how many timed runs the figures summarise\n");
        md.append("- **ratio**: the numerator variant's median of the named figure over the denominator's, both")
                .append(" from this run (> 1: the numerator is faster)\n\n");

        for (Map.Entry<String, JsonNode> e : inputs.entrySet()) {
            JsonNode s = report.path("benchmarks").path(e.getKey());
            JsonNode in = e.getValue();
            md.append("## ").append(e.getKey()).append("\n\n");
            md.append("`").append(s.path("command").asText()).append("`");
            if (s.has("loadAverage1mBefore") && s.has("loadAverage1mAfter")) {
                md.append(" (1-minute load ").append(fmt(s.path("loadAverage1mBefore").asDouble())).append(" before, ")
                        .append(fmt(s.path("loadAverage1mAfter").asDouble())).append(" after)");
            }
            md.append("; every figure: [").append(s.path("file").asText()).append("](").append(s.path("file").asText())
                    .append(").\n\n");
            String setup = setup(in);
            if (!setup.isEmpty()) {
                md.append(setup).append("\n");
            }
            md.append("Figures:\n\n");
            s.path("figures").fields().forEachRemaining(f ->
                    md.append("- `").append(f.getKey()).append("`: ").append(f.getValue().asText()).append("\n"));
            md.append("\n| variant | figure | median | min | max | repeats |\n|---|---|---|---|---|---|\n");
            for (JsonNode v : s.path("variants")) {
                boolean first = true;
                for (Iterator<Map.Entry<String, JsonNode>> it = v.path("figures").fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> f = it.next();
                    md.append("| ").append(first ? v.path("variant").asText() : "").append(" | `").append(f.getKey())
                            .append("` | ").append(fmt(f.getValue().path("median").asDouble())).append(" | ")
                            .append(fmt(f.getValue().path("min").asDouble())).append(" | ")
                            .append(fmt(f.getValue().path("max").asDouble())).append(" | ")
                            .append(first ? v.path("repeats").asText() : "").append(" |\n");
                    first = false;
                }
            }
            if (!s.path("ratios").isEmpty()) {
                md.append("\nRatios of median `").append(s.path("ratioFigure").asText()).append("`, same run:\n\n")
                        .append("| ratio | numerator / denominator | value |\n|---|---|---|\n");
                for (JsonNode r : s.path("ratios")) {
                    md.append("| ").append(r.path("name").asText()).append(" | ").append(r.path("numerator").asText())
                            .append(" / ").append(r.path("denominator").asText()).append(" | ")
                            .append(fmt(r.path("value").asDouble())).append(" |\n");
                }
            }
            if (in.path("note").isTextual()) {
                md.append("\n").append(in.path("note").asText()).append("\n");
            }
            md.append("\n");
        }
        return md.toString();
    }

    /** The set-up of a benchmark (its input, model, matmul rate, machine): a line per object, scalars only. */
    private static String setup(JsonNode in) {
        StringBuilder sb = new StringBuilder();
        StringJoiner top = new StringJoiner(", ");
        in.fields().forEachRemaining(f -> {
            if (NOT_SETUP.contains(f.getKey())) {
                return;
            }
            if (f.getValue().isValueNode()) {
                top.add(f.getKey() + " " + f.getValue().asText());
            } else if (f.getValue().isObject()) {
                StringJoiner inner = new StringJoiner(", ");
                f.getValue().fields().forEachRemaining(g -> {
                    // The load averages are on the benchmark's heading line already.
                    if (g.getValue().isValueNode() && !g.getKey().startsWith("loadAverage")) {
                        inner.add(g.getKey() + " " + g.getValue().asText());
                    }
                });
                sb.append("- ").append(f.getKey()).append(": ").append(inner).append("\n");
            }
        });
        if (top.length() > 0) {
            sb.insert(0, "- " + top + "\n");
        }
        return sb.length() == 0 ? "" : "Set-up:\n\n" + sb;
    }

    /** Four significant digits, never in exponent notation: 10680, 1602, 5.056, 0.01466. */
    static String fmt(double x) {
        if (!Double.isFinite(x)) {
            return String.valueOf(x);
        }
        return BigDecimal.valueOf(x).round(new MathContext(4, RoundingMode.HALF_EVEN)).stripTrailingZeros()
                .toPlainString();
    }
}
