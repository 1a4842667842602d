package io.sgdpo.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.train.TinyRuns;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.imageio.ImageIO;
import org.apache.commons.io.FileUtils;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report over two real tiny runs (SGDPO and DPO): its table values against the runs' own
 * metric rows and eval.json, its plots, labels, and errors.
 */
@Tag("spark")
class RunReportTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static TinyRuns runs;
    @TempDir
    static File tmp;
    /** The eval.json this test puts into the SGDPO run, as sgdpo eval would. */
    private static Map<String, Object> evalJson;

    @BeforeAll
    static void setUp() throws Exception {
        runs = TinyRuns.get();
        Map<String, Object> last = lastEval(runs.sgdpoRows);
        Map<String, Object> metrics = new LinkedHashMap<>();
        last.forEach((k, v) -> {
            if (k.startsWith("eval_")) {
                metrics.put(k, v);
            }
        });
        evalJson = new LinkedHashMap<>();
        evalJson.put("checkpoint", new File(runs.sgdpo, "checkpoints/step-0000000020").getPath());
        evalJson.put("data", "ref");
        evalJson.put("split", "eval");
        evalJson.put("pairs", 37);
        evalJson.put("metrics", metrics);
        evalJson.put("gold", Map.of("source", "gold.jsonl", "prompts", 12, "correct", 3, "exact_match", 0.25));
        File eval = new File(runs.sgdpo, RunReport.EVAL_JSON);
        eval.getParentFile().mkdirs();
        JSON.writeValue(eval, evalJson);
    }

    private static Map<String, Object> lastEval(List<Map<String, Object>> rows) {
        return rows.stream().filter(r -> r.containsKey("eval_loss")).reduce((a, b) -> b).orElseThrow();
    }

    private static Map<String, Object> firstEval(List<Map<String, Object>> rows) {
        return rows.stream().filter(r -> r.containsKey("eval_loss")).findFirst().orElseThrow();
    }

    private static double value(Map<String, Object> row, String key) {
        return ((Number) row.get(key)).doubleValue();
    }

    private static String write(List<File> runDirs, File out) throws IOException {
        Path report = RunReport.write(new Configuration(), runDirs.stream().map(File::getPath).toList(), out.getPath(),
                new PrintStream(System.out));
        assertEquals(new File(out, RunReport.MARKDOWN).getAbsolutePath(), new File(report.toUri().getPath()).getPath());
        return Files.readString(new File(out, RunReport.MARKDOWN).toPath());
    }

    /** The cells of the table row of a run in the section that starts with {@code heading}. */
    static List<String> tableRow(String markdown, String heading, String label) {
        String section = markdown.substring(markdown.indexOf(heading));
        section = section.substring(0, section.indexOf("\n## ", 1) < 0 ? section.length() : section.indexOf("\n## ", 1));
        for (String line : section.split("\n")) {
            if (line.startsWith("| " + label + " |")) {
                return Arrays.stream(line.substring(2, line.length() - 2).split(" \\| ")).map(String::trim).toList();
            }
        }
        throw new AssertionError("no row '" + label + "' under " + heading + ":\n" + markdown);
    }

    private static void assertNumber(double expected, String cell, String what) {
        assertEquals(expected, Double.parseDouble(cell), 0.5e-4, what + ": " + cell);
    }

    @Test
    void tableShowsEachRunsFinalEvalMetricsLogpsChangesAndGoldExactMatch() throws Exception {
        File out = new File(tmp, "report");
        String md = write(List.of(runs.sgdpo, runs.dpo), out);
        System.out.println(md);
        for (var run : List.of(Map.entry("sgdpo", runs.sgdpoRows), Map.entry("dpo", runs.dpoRows))) {
            List<Map<String, Object>> rows = run.getValue();
            Map<String, Object> last = lastEval(rows);
            Map<String, Object> first = firstEval(rows);
            List<String> cells = tableRow(md, "## Final evaluation", run.getKey());
            assertEquals(13, cells.size(), cells.toString());
            assertEquals(run.getKey(), cells.get(1), "loss name");
            assertTrue(cells.get(2).contains("beta 0.1") && cells.get(2).contains("learningRate 1e-3")
                    && cells.get(2).contains("batchSize 8"), cells.get(2));
            assertEquals(run.getKey().equals("sgdpo"), cells.get(2).contains("r1 0.6"), cells.get(2));
            assertEquals(Long.toString(TinyRuns.STEPS), cells.get(3), "steps");
            assertEquals(last.get("step").toString(), cells.get(4), "eval step");
            assertNumber(value(last, "eval_loss"), cells.get(5), "eval loss");
            assertNumber(value(last, "eval_rewards/accuracies"), cells.get(6), "accuracy");
            assertNumber(value(last, "eval_rewards/margins"), cells.get(7), "margin");
            assertNumber(value(last, "eval_rewards/chosen"), cells.get(8), "chosen reward");
            assertNumber(value(last, "eval_rewards/rejected"), cells.get(9), "rejected reward");
            assertNumber(value(last, "eval_logps/chosen") - value(first, "eval_logps/chosen"), cells.get(10),
                    "logps/chosen change");
            assertNumber(value(last, "eval_logps/rejected") - value(first, "eval_logps/rejected"), cells.get(11),
                    "logps/rejected change");
        }
        assertNumber(0.25, tableRow(md, "## Final evaluation", "sgdpo").get(12), "gold exact match");
        assertEquals("–", tableRow(md, "## Final evaluation", "dpo").get(12), "the DPO run has no eval.json");

        List<String> held = tableRow(md, "## Held-out evaluation", "sgdpo");
        assertEquals(evalJson.get("checkpoint"), held.get(1));
        assertEquals("37", held.get(2));
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) evalJson.get("metrics");
        assertNumber(value(m, "eval_loss"), held.get(3), "eval.json eval_loss");
        assertNumber(value(m, "eval_rewards/accuracies"), held.get(4), "eval.json accuracy");
        assertEquals("gold.jsonl", held.get(8));
        assertEquals("12", held.get(9));
        assertNumber(0.25, held.get(10), "eval.json exact match");
        assertFalse(md.substring(md.indexOf("## Held-out"), md.indexOf("## Curves")).contains("| dpo |"),
                "only runs with eval.json are in the held-out table");

        List<String> listed = tableRow(md, "## Runs", "sgdpo");
        assertEquals(runs.sgdpoRows.get(0).get("run_id"), listed.get(2), "run id");
    }

    @Test
    void plotsAreRealPngImagesAndTheReportLinksThem() throws Exception {
        File out = new File(tmp, "plots");
        String md = write(List.of(runs.sgdpo, runs.dpo), out);
        for (String png : List.of(RunReport.LOSS_PNG, RunReport.ACCURACY_PNG, RunReport.REWARDS_PNG)) {
            File f = new File(out, png);
            assertTrue(md.contains("](" + png + ")"), "report.md links " + png);
            byte[] bytes = Files.readAllBytes(f.toPath());
            assertTrue(bytes.length > 10_000, png + " is only " + bytes.length + " bytes");
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'},
                    Arrays.copyOf(bytes, 8), png + " signature");
            BufferedImage image = ImageIO.read(f);
            assertNotNull(image, png + " does not decode");
            assertTrue(image.getWidth() >= 400 && image.getHeight() >= 300, png + " " + image.getWidth() + "x"
                    + image.getHeight());
            Set<Integer> colours = new HashSet<>();
            for (int x = 0; x < image.getWidth(); x += 3) {
                for (int y = 0; y < image.getHeight(); y += 3) {
                    colours.add(image.getRGB(x, y));
                }
            }
            assertTrue(colours.size() > 20, png + " has only " + colours.size() + " colours: a blank chart?");
        }
        assertEquals(2 * 480, ImageIO.read(new File(out, RunReport.LOSS_PNG)).getWidth(), "train and eval loss panels");
    }

    @Test
    void runsSharingALossAreLabelledWithTheirFolderName() throws Exception {
        File copy = new File(tmp, "dpo-again");
        FileUtils.copyDirectory(runs.dpo, copy);
        String md = write(List.of(runs.sgdpo, runs.dpo, copy), new File(tmp, "labels"));
        tableRow(md, "## Final evaluation", "sgdpo");
        List<String> a = tableRow(md, "## Final evaluation", "dpo (dpo)");
        List<String> b = tableRow(md, "## Final evaluation", "dpo (dpo-again)");
        assertEquals(a.subList(1, 12), b.subList(1, 12), "a copied run reports the same figures");
    }

    @Test
    void labelsStayDistinctWhenLossAndFolderNameBothRepeat() {
        RunReport.Run a = new RunReport.Run(new Path("/x/run"), null, manifest("dpo"), List.of(), java.util.Optional.empty());
        RunReport.Run b = new RunReport.Run(new Path("/y/run"), null, manifest("dpo"), List.of(), java.util.Optional.empty());
        RunReport.Run c = new RunReport.Run(new Path("/z/other"), null, manifest("ipo"), List.of(), java.util.Optional.empty());
        assertEquals(List.of("dpo (run) #1", "dpo (run) #2", "ipo"),
                RunReport.labelled(List.of(a, b, c)).stream().map(RunReport.Run::label).toList());
    }

    private static io.sgdpo.prep.Manifest manifest(String loss) {
        return io.sgdpo.prep.Manifest.builder("train").config("{\"loss\": {\"name\": \"" + loss + "\"}}").build();
    }

    @Test
    void withoutEvalJsonTheReportSaysSoAndShowsNoGold() throws Exception {
        String md = write(List.of(runs.dpo), new File(tmp, "dpo-only"));
        assertTrue(md.contains("No run holds `" + RunReport.EVAL_JSON + "`"), md);
        assertEquals("–", tableRow(md, "## Final evaluation", "dpo").get(12));
    }

    @Test
    void errorsNameTheMissingRunOrMetricsFileAndLeaveNoOutput() throws Exception {
        File out = new File(tmp, "errors");
        File missing = new File(tmp, "no-such-run");
        FileNotFoundException e = assertThrows(FileNotFoundException.class,
                () -> write(List.of(runs.sgdpo, missing), out));
        assertTrue(e.getMessage().contains(missing.getPath()), e.getMessage());

        FileNotFoundException sft = assertThrows(FileNotFoundException.class, () -> write(List.of(runs.sft), out));
        assertTrue(sft.getMessage().contains(new File(runs.sft, "metrics/train.jsonl").getPath())
                && sft.getMessage().contains("SFT"), sft.getMessage());

        File empty = new File(tmp, "empty-run");
        assertTrue(new File(empty, "metrics").mkdirs());
        FileNotFoundException none = assertThrows(FileNotFoundException.class, () -> write(List.of(empty), out));
        assertTrue(none.getMessage().contains(new File(empty, "metrics/train.jsonl").getPath()), none.getMessage());
        Files.writeString(new File(empty, "metrics/train.jsonl").toPath(), "\n");
        IOException noRows = assertThrows(IOException.class, () -> write(List.of(empty), out));
        assertTrue(noRows.getMessage().contains("no rows"), noRows.getMessage());
        assertFalse(out.exists(), "a failed report writes nothing");

        File foreign = new File(tmp, "not-a-report");
        assertTrue(foreign.mkdirs());
        Files.writeString(new File(foreign, "keep.txt").toPath(), "mine");
        IOException replace = assertThrows(IOException.class, () -> write(List.of(runs.dpo), foreign));
        assertTrue(replace.getMessage().contains(foreign.getPath()), replace.getMessage());
        assertEquals("mine", Files.readString(new File(foreign, "keep.txt").toPath()));
    }

    @Test
    void aSecondReportReplacesTheFirstWholeAndLeavesNoTemporaryFolder() throws Exception {
        File out = new File(tmp, "rerun");
        write(List.of(runs.sgdpo, runs.dpo), out);
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        RunReport.write(new Configuration(), List.of(runs.dpo.getPath()), out.getPath(),
                new PrintStream(progress, true, StandardCharsets.UTF_8));
        String md = Files.readString(new File(out, RunReport.MARKDOWN).toPath());
        assertFalse(md.contains("| sgdpo |"), "the second report has only the DPO run");
        assertTrue(progress.toString(StandardCharsets.UTF_8).contains(runs.dpo.getPath()));
        String[] siblings = tmp.list((d, n) -> n.startsWith(".rerun."));
        assertEquals(0, siblings.length, Arrays.toString(siblings));
    }
}
