package io.sgdpo.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.cli.Sgdpo;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link BenchReport} over small benchmark outputs whose per-repeat values are known: the medians,
 * minima, maxima and ratios in results.json and RESULTS.md are those computed here from the inputs,
 * and a missing or malformed input is an error naming the file.
 */
class BenchReportTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One benchmark's input: variant to seconds per repeat; each rate figure is its work / seconds. */
    private record Figures(String name, String rateFigure, double work, Map<String, double[]> seconds,
                         List<String[]> ratios) {
    }

    private static final List<Figures> BENCHES = List.of(
            // Odd repeat count, as bench/run uses.
            new Figures("prep", "pairsPerSecond", 27744, variants(
                    "java loop, 1 thread", new double[]{2.75, 2.5, 2.6},
                    "spark local[1]", new double[]{4.45, 4.4, 4.29},
                    "spark local[2]", new double[]{3.04, 2.86, 3.5}),
                    List.of(new String[]{"local[1]/loop", "spark local[1]", "java loop, 1 thread"},
                            new String[]{"local[2]/local[1]", "spark local[2]", "spark local[1]"})),
            // Even repeat count: the median is the mean of the two middle values.
            new Figures("ref-logps", "tokensPerSecond", 35228, variants(
                    "spark local[1]", new double[]{28.9, 14.4, 37.8, 20.0},
                    "spark local[2]", new double[]{32.2, 18.3, 10.8, 12.5},
                    "in-process loop, no Spark", new double[]{49.4, 88.3, 8.5, 9.5}),
                    List.<String[]>of(new String[]{"local[2]/loop", "spark local[2]", "in-process loop, no Spark"})),
            // A single repeat: median, min and max coincide.
            new Figures("train", "tokensPerSecond", 8098, variants(
                    "plain", new double[]{5.05},
                    "spark local[2] sharedTraining", new double[]{6.86}),
                    List.<String[]>of(new String[]{"sharedTraining local[2]/plain", "spark local[2] sharedTraining",
                            "plain"})));

    @TempDir
    Path tmp;

    @Test
    void reportsMedianMinMaxAndRatiosOfEveryFigure() throws IOException {
        Path in = writeInputs(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        BenchReport.write(in, out, new BenchReport.RunInfo("bench/run --quick", "0123abc", true,
                "2026-11-24T03:00:00Z", 0.75), new PrintStream(log, true, StandardCharsets.UTF_8));

        JsonNode report = JSON.readTree(out.resolve(BenchReport.JSON).toFile());
        String md = Files.readString(out.resolve(BenchReport.MARKDOWN));
        assertEquals("bench/run --quick", report.path("command").asText());
        assertEquals("0123abc", report.path("code").path("commit").asText());
        assertTrue(report.path("code").path("uncommittedChanges").asBoolean());
        JsonNode machine = report.path("machine");
        assertEquals(Runtime.getRuntime().availableProcessors(), machine.path("cores").asInt());
        assertEquals(0.75, machine.path("loadAverage1mBefore").asDouble());
        assertFalse(machine.path("cpu").asText().isEmpty());
        assertTrue(machine.path("jvm").asText().contains(System.getProperty("java.version")), machine.toString());
        assertTrue(md.contains("`bench/run --quick`"), md);
        assertTrue(md.contains("`0123abc` with uncommitted changes"), md);

        for (Figures b : BENCHES) {
            JsonNode s = report.path("benchmarks").path(b.name());
            assertEquals("./sgdpo bench-" + b.name(), s.path("command").asText());
            assertEquals(b.rateFigure(), s.path("ratioFigure").asText());
            JsonNode variants = s.path("variants");
            assertEquals(b.seconds().size(), variants.size(), b.name());
            int i = 0;
            for (Map.Entry<String, double[]> v : b.seconds().entrySet()) {
                JsonNode got = variants.get(i++);
                assertEquals(v.getKey(), got.path("variant").asText());
                assertEquals(v.getValue().length, got.path("repeats").asInt());
                boolean firstRow = true;
                for (String figure : List.of("seconds", b.rateFigure())) {
                    double[] values = figure.equals("seconds") ? v.getValue() : rates(b.work(), v.getValue());
                    double[] expected = {median(values), min(values), max(values)};
                    JsonNode f = got.path("figures").path(figure);
                    assertArrayEquals(expected, new double[]{f.path("median").asDouble(), f.path("min").asDouble(),
                            f.path("max").asDouble()}, 1e-9, b.name() + " " + v.getKey() + " " + figure);
                    String row = "| " + (firstRow ? v.getKey() : "") + " | `" + figure + "` | "
                            + BenchReport.fmt(expected[0]) + " | " + BenchReport.fmt(expected[1]) + " | "
                            + BenchReport.fmt(expected[2]) + " | " + (firstRow ? values.length : "") + " |";
                    assertTrue(md.contains(row), "RESULTS.md lacks " + row + "\n" + md);
                    firstRow = false;
                }
            }
            JsonNode ratios = s.path("ratios");
            assertEquals(b.ratios().size(), ratios.size());
            for (int r = 0; r < b.ratios().size(); r++) {
                String[] def = b.ratios().get(r);
                double expected = median(rates(b.work(), b.seconds().get(def[1])))
                        / median(rates(b.work(), b.seconds().get(def[2])));
                assertEquals(def[0], ratios.get(r).path("name").asText());
                assertEquals(expected, ratios.get(r).path("value").asDouble(), 1e-9, def[0]);
                String row = "| " + def[0] + " | " + def[1] + " / " + def[2] + " | " + BenchReport.fmt(expected) + " |";
                assertTrue(md.contains(row), "RESULTS.md lacks " + row + "\n" + md);
            }
            assertEquals(Files.readString(in.resolve(b.name() + ".json")),
                    Files.readString(out.resolve(BenchReport.RAW_DIR).resolve(b.name() + ".json")));
        }
        // The even count really takes the mean of the two middle values (20.0 and 28.9).
        assertEquals(24.45, report.path("benchmarks").path("ref-logps").path("variants").get(0).path("figures")
                .path("seconds").path("median").asDouble(), 1e-9);
    }

    @Test
    void missingOrMalformedInputFailsNamingTheFileAndWritesNothing() throws IOException {
        Path in = writeInputs(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        BenchReport.RunInfo run = new BenchReport.RunInfo(null, null, null, null, null);
        PrintStream log = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);

        Path train = in.resolve("train.json");
        String trainJson = Files.readString(train);
        Files.delete(train);
        IOException missing = assertThrows(IOException.class, () -> BenchReport.write(in, out, run, log));
        assertTrue(missing.getMessage().contains(train.toString()), missing.getMessage());

        Files.writeString(train, trainJson.substring(0, trainJson.length() / 2));
        IOException truncated = assertThrows(IOException.class, () -> BenchReport.write(in, out, run, log));
        assertTrue(truncated.getMessage().contains(train.toString()), truncated.getMessage());

        Files.writeString(train, trainJson);
        Path refLogps = in.resolve("ref-logps.json");
        String refLogpsJson = Files.readString(refLogps);
        ObjectNode root = (ObjectNode) JSON.readTree(refLogps.toFile());
        ((ObjectNode) root.path("results").get(1).path("perRepeat")).remove("tokensPerSecond");
        Files.writeString(refLogps, JSON.writeValueAsString(root));
        IOException noFigure = assertThrows(IOException.class, () -> BenchReport.write(in, out, run, log));
        assertTrue(noFigure.getMessage().contains(refLogps.toString())
                && noFigure.getMessage().contains("perRepeat.tokensPerSecond"), noFigure.getMessage());

        root.put("ratioFigure", "furlongsPerFortnight");
        Files.writeString(refLogps, JSON.writeValueAsString(root));
        IOException badRatio = assertThrows(IOException.class, () -> BenchReport.write(in, out, run, log));
        assertTrue(badRatio.getMessage().contains(refLogps.toString())
                && badRatio.getMessage().contains("furlongsPerFortnight"), badRatio.getMessage());

        assertFalse(Files.exists(out.resolve(BenchReport.MARKDOWN)), "no report from bad inputs");
        assertFalse(Files.exists(out.resolve(BenchReport.JSON)), "no report from bad inputs");

        // The command line reports the same as a failure (exit 1) naming the file.
        Files.writeString(refLogps, refLogpsJson);
        Files.delete(train);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Bench.run(new String[]{"bench-report", "--in", in.toString(), "--out", out.toString()},
                log, new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(Sgdpo.EXIT_FAILED, code);
        assertTrue(err.toString(StandardCharsets.UTF_8).contains(train.toString()), err.toString());
    }

    @Test
    void aPeerRunIsSummarisedWithItsRatioTableAndGoalsFirst() throws IOException {
        Path in = writeInputs(tmp.resolve("in"));
        ObjectNode peer = JSON.createObjectNode();
        peer.put("benchmark", "peer");
        peer.put("command", "./sgdpo bench-peer --shapes tiny");
        peer.put("torch", "1.13.0a0");
        peer.put("threads", 2);
        peer.putObject("matmul").put("nd4jGflops", 100.0).put("pytorchGflops", 200.0);
        peer.putObject("shapes").putObject("tiny").put("description", "gpt d 64, 2 layers")
                .put("forwardFlopsPerToken", 1_000_000);
        peer.putObject("figures").put("seconds", "s").put("perSecond", "work / s").put("peakRssMiB", "peak");
        peer.put("ratioFigure", "perSecond");
        peer.putArray("ratioDefinitions").addObject().put("name", "tiny train project/pytorch")
                .put("numerator", "tiny train project").put("denominator", "tiny train pytorch");
        ArrayNode results = peer.putArray("results");
        double[][] perSecond = {{1500, 1600, 1700}, {8000, 9000, 8800}};
        String[] sides = {"project", "pytorch"};
        for (int i = 0; i < 2; i++) {
            ObjectNode perRepeat = results.addObject().put("variant", "tiny train " + sides[i]).putObject("perRepeat");
            Arrays.stream(perSecond[i]).map(x -> 512 / x).forEach(perRepeat.putArray("seconds")::add);
            Arrays.stream(perSecond[i]).forEach(perRepeat.putArray("perSecond")::add);
            Arrays.stream(new double[] {400 - 100 * i, 400 - 100 * i, 400 - 100 * i})
                    .forEach(perRepeat.putArray("peakRssMiB")::add);
        }
        Files.writeString(in.resolve("peer.json"), JSON.writeValueAsString(peer));
        Path out = tmp.resolve("out");
        BenchReport.write(in, out, new BenchReport.RunInfo("bench/run", null, null, null, null),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));

        JsonNode report = JSON.readTree(out.resolve(BenchReport.JSON).toFile());
        JsonNode row = report.path("peerComparison").path("rows").get(0);
        assertEquals(1600.0 / 8800.0, row.path("ratio").asDouble(), 1e-12);
        assertEquals(400.0 / 300.0, row.path("peakRatio").asDouble(), 1e-12);
        assertEquals(3.0 * 1_000_000 * 1600 / 200e9, row.path("projectMatmulFraction").asDouble(), 1e-15);
        assertEquals(1600.0 / 8800.0, report.path("benchmarks").path("peer").path("ratios").get(0).path("value")
                .asDouble(), 1e-12);
        String md = Files.readString(out.resolve(BenchReport.MARKDOWN));
        int table = md.indexOf("## Project against PyTorch");
        assertTrue(table > 0 && table < md.indexOf("## prep"), "the comparison heads the report\n" + md);
        assertTrue(md.contains("| tiny | train (positions/s) | 1600 (1500–1700) | 8800 (8000–9000) | **0.1818** |"), md);
        assertTrue(md.contains("| training step >= 0.5x PyTorch at the tiny shape | >= 0.5 | 0.1818 | missed |"), md);
        assertTrue(md.contains("## peer"), "and its variants like every benchmark's\n" + md);
        assertTrue(Files.exists(out.resolve(BenchReport.RAW_DIR).resolve("peer.json")));
    }

    /** Writes each benchmark's JSON in the layout of {@code io.sgdpo.bench.prep.RepeatFigures}. */
    private static Path writeInputs(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (Figures b : BENCHES) {
            ObjectNode root = JSON.createObjectNode();
            root.put("benchmark", b.name());
            root.put("command", "./sgdpo bench-" + b.name());
            root.putObject("machine").put("cores", 2).put("loadAverage1mBefore", 1.5).put("loadAverage1mAfter", 2.5);
            root.putObject("input").put("records", b.work());
            root.putObject("figures").put("seconds", "wall-clock seconds of one run")
                    .put(b.rateFigure(), "work / seconds");
            root.put("ratioFigure", b.rateFigure());
            ArrayNode defs = root.putArray("ratioDefinitions");
            for (String[] r : b.ratios()) {
                defs.addObject().put("name", r[0]).put("numerator", r[1]).put("denominator", r[2]);
            }
            ArrayNode results = root.putArray("results");
            for (Map.Entry<String, double[]> v : b.seconds().entrySet()) {
                ObjectNode n = results.addObject().put("variant", v.getKey());
                ObjectNode perRepeat = n.putObject("perRepeat");
                Arrays.stream(v.getValue()).forEach(perRepeat.putArray("seconds")::add);
                Arrays.stream(rates(b.work(), v.getValue())).forEach(perRepeat.putArray(b.rateFigure())::add);
            }
            Files.writeString(dir.resolve(b.name() + ".json"), JSON.writeValueAsString(root));
        }
        return dir;
    }

    private static Map<String, double[]> variants(Object... nameThenSeconds) {
        Map<String, double[]> m = new LinkedHashMap<>();
        for (int i = 0; i < nameThenSeconds.length; i += 2) {
            m.put((String) nameThenSeconds[i], (double[]) nameThenSeconds[i + 1]);
        }
        return m;
    }

    private static double[] rates(double work, double[] seconds) {
        return Arrays.stream(seconds).map(s -> work / s).toArray();
    }

    private static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double min(double[] values) {
        return Arrays.stream(values).min().orElseThrow();
    }

    private static double max(double[] values) {
        return Arrays.stream(values).max().orElseThrow();
    }
}
