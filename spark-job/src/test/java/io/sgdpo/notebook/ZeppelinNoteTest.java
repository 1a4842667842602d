package io.sgdpo.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.train.TinyRuns;
import java.io.File;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.BiConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The Zeppelin note notebooks/sgdpo-runs.zpln: its structure, and every SQL paragraph run in order
 * with Spark SQL on two real tiny runs (its dynamic forms set to their folders), each result checked
 * against the runs' own metric rows.
 */
@Tag("spark")
class ZeppelinNoteTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Zeppelin's text-box dynamic form: ${name=default}. */
    private static final Pattern FORM = Pattern.compile("\\$\\{(\\w+)=([^}]*)}");
    private static final String SQL = "%spark.sql";
    private static final String MARKDOWN = "%md";

    private static SparkSession spark;
    private static TinyRuns runs;
    private static JsonNode note;

    @BeforeAll
    static void setUp() throws Exception {
        spark = SparkSession.builder().master("local[2]").appName("zeppelin-note-test")
                .config("spark.ui.enabled", "false").getOrCreate();
        runs = TinyRuns.get();
        note = JSON.readTree(noteFile());
    }

    @AfterAll
    static void tearDown() {
        spark.stop();
    }

    private static File noteFile() {
        // Surefire runs in the module folder and sets basedir to it; the note is in the repository root.
        File module = new File(System.getProperty("basedir", System.getProperty("user.dir")));
        File f = new File(module.getParentFile(), "notebooks/sgdpo-runs.zpln");
        if (!f.isFile()) {
            throw new IllegalStateException("Zeppelin note missing: " + f);
        }
        return f;
    }

    @Test
    void noteHasZeppelinsStructureAndKnownInterpreters() {
        for (String key : List.of("paragraphs", "name", "id", "config", "info")) {
            assertTrue(note.has(key), "note lacks " + key);
        }
        assertTrue(note.get("paragraphs").size() >= 5, "paragraphs");
        Set<String> ids = new HashSet<>();
        for (JsonNode p : note.get("paragraphs")) {
            String text = p.path("text").asText();
            String title = p.path("title").asText();
            assertFalse(text.isBlank(), "a paragraph without text: " + p);
            assertTrue(p.get("config").isObject(), title + ": config");
            assertTrue(ids.add(p.path("id").asText()), title + ": duplicate or missing id");
            String interpreter = text.lines().findFirst().orElseThrow().strip();
            assertTrue(List.of(SQL, MARKDOWN).contains(interpreter), title + ": unknown interpreter " + interpreter);
            assertEquals(interpreter.equals(SQL) ? "ace/mode/sql" : "ace/mode/markdown",
                    p.path("config").path("editorMode").asText(), title + ": editor mode");
            if (interpreter.equals(SQL)) {
                assertFalse(title.isBlank(), "an SQL paragraph without a title: " + text);
            }
        }
        assertEquals(MARKDOWN, note.get("paragraphs").get(0).path("text").asText().lines().findFirst().orElseThrow(),
                "the note opens with its explanation");
        Set<String> forms = new HashSet<>();
        Matcher m = FORM.matcher(note.toString());
        while (m.find()) {
            forms.add(m.group(1));
        }
        assertEquals(Set.of("sgdpo_run", "dpo_run"), forms, "the note's dynamic forms");
    }

    @Test
    void everySqlParagraphRunsInOrderAndMatchesTheRunsMetrics() {
        Map<String, List<Row>> results = runAll(note);
        Map<String, BiConsumer<String, List<Row>>> checks = checks();
        assertEquals(checks.keySet(), results.keySet(), "every SQL paragraph has its check, and only those run");
        results.forEach((title, rows) -> checks.get(title).accept(title, rows));
    }

    @Test
    void aParagraphThatNamesAMissingColumnFails() {
        ObjectNode broken = note.deepCopy();
        for (JsonNode p : broken.get("paragraphs")) {
            if (p.path("title").asText().equals("Eval reward margin")) {
                ((ObjectNode) p).put("text", p.get("text").asText().replace("SELECT step, run, eval_margin",
                        "SELECT step, run, eval_margins"));
            }
        }
        assertTrue(broken.toString().contains("eval_margins"), "the paragraph to break was found");
        AnalysisException e = assertThrows(AnalysisException.class, () -> runAll(broken));
        assertTrue(e.getMessage().contains("eval_margins"), e.getMessage());

        ObjectNode renamed = note.deepCopy();
        for (JsonNode p : renamed.get("paragraphs")) {
            ((ObjectNode) p).put("text", p.get("text").asText().replace("`eval_rewards/margins`",
                    "`eval_rewards/margin`"));
        }
        assertThrows(AnalysisException.class, () -> runAll(renamed), "a metrics column the Parquet lacks");
    }

    /**
     * Runs every SQL paragraph in note order, as Zeppelin's Spark SQL interpreter would after the
     * dynamic forms are set: statements split at ';' (comment lines dropped), each executed, the
     * last one's rows kept under the paragraph's title. Checks that every chart setting names a
     * column of the result at its index, so the charts show without clicking.
     */
    private static Map<String, List<Row>> runAll(JsonNode zpln) {
        Map<String, String> formValues = Map.of("sgdpo_run", runs.sgdpo.getAbsolutePath(),
                "dpo_run", runs.dpo.getAbsolutePath());
        Map<String, List<Row>> results = new LinkedHashMap<>();
        for (JsonNode p : zpln.get("paragraphs")) {
            String text = p.get("text").asText();
            if (!text.startsWith(SQL)) {
                continue;
            }
            String title = p.get("title").asText();
            String sql = substituteForms(text.substring(SQL.length()), formValues);
            List<String> statements = statements(sql);
            assertFalse(statements.isEmpty(), title + ": no statement");
            Dataset<Row> last = null;
            for (String s : statements) {
                last = spark.sql(s);
            }
            List<Row> rows = last.collectAsList();
            System.out.println("note paragraph '" + title + "': " + rows.size() + " rows, columns "
                    + Arrays.toString(last.columns()));
            JsonNode graph = p.path("config").path("results").path("0").path("graph");
            if (!graph.isMissingNode() && !graph.path("mode").asText().equals("table")) {
                assertEquals(1, statements.size(), title + ": a chart setting applies to a single statement");
                List<String> columns = List.of(last.columns());
                for (String part : List.of("keys", "groups", "values")) {
                    for (JsonNode c : graph.path(part)) {
                        assertEquals(c.path("name").asText(), columns.get(c.path("index").asInt()),
                                title + ": chart " + part + " column at index " + c.path("index").asInt());
                    }
                }
                assertFalse(graph.path("keys").isEmpty() || graph.path("values").isEmpty(),
                        title + ": a chart needs keys and values");
            }
            assertFalse(results.containsKey(title), "two SQL paragraphs titled " + title);
            results.put(title, rows);
        }
        return results;
    }

    private static String substituteForms(String text, Map<String, String> values) {
        Matcher m = FORM.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String v = values.get(m.group(1));
            if (v == null) {
                throw new AssertionError("no value for the note's form " + m.group(1));
            }
            m.appendReplacement(out, Matcher.quoteReplacement(v));
        }
        m.appendTail(out);
        assertFalse(out.toString().contains("${"), "a form left in " + out);
        return out.toString();
    }

    private static List<String> statements(String sql) {
        StringBuilder code = new StringBuilder();
        for (String line : sql.split("\n")) {
            if (!line.strip().startsWith("--")) {
                code.append(line).append('\n');
            }
        }
        return Arrays.stream(code.toString().split(";")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    // ---- what each paragraph must return, from the runs' own metric rows ----

    private static Map<String, BiConsumer<String, List<Row>>> checks() {
        Map<String, BiConsumer<String, List<Row>>> c = new LinkedHashMap<>();
        c.put("Runs", ZeppelinNoteTest::checkRuns);
        c.put("Train loss", (t, rows) -> checkSeries(t, rows, "loss"));
        c.put("Eval loss", (t, rows) -> checkSeries(t, rows, "eval_loss"));
        c.put("Eval reward accuracy", (t, rows) -> checkSeries(t, rows, "eval_rewards/accuracies"));
        c.put("Eval reward margin", (t, rows) -> checkSeries(t, rows, "eval_rewards/margins"));
        c.put("Chosen and rejected rewards (eval)", ZeppelinNoteTest::checkRewards);
        c.put("Final eval metrics per run", ZeppelinNoteTest::checkFinal);
        c.put("SGDPO vs DPO at each eval step", ZeppelinNoteTest::checkComparison);
        return c;
    }

    private static String runId(List<Map<String, Object>> rows) {
        return (String) rows.get(0).get("run_id");
    }

    private static double value(Map<String, Object> row, String key) {
        return ((Number) row.get(key)).doubleValue();
    }

    private static List<Map<String, Object>> withKey(List<Map<String, Object>> rows, String key) {
        return rows.stream().filter(r -> r.get(key) instanceof Number).toList();
    }

    /** (series, step) -> value over both runs, for the rows that carry {@code key}. */
    private static Map<String, Double> expected(String key, String suffix) {
        Map<String, Double> e = new TreeMap<>();
        for (List<Map<String, Object>> rows : List.of(runs.sgdpoRows, runs.dpoRows)) {
            for (Map<String, Object> r : withKey(rows, key)) {
                e.put(runId(rows) + suffix + "@" + r.get("step"), value(r, key));
            }
        }
        return e;
    }

    private static void assertSameValues(Map<String, Double> expected, Map<String, Double> actual, String what) {
        assertEquals(expected.keySet(), actual.keySet(), what + ": (series, step) points");
        expected.forEach((k, v) -> assertEquals(v, actual.get(k), 1e-12, what + " at " + k));
    }

    private static void checkRuns(String title, List<Row> rows) {
        assertEquals(2, rows.size(), title);
        var byRole = List.of(Map.entry("sgdpo", runs.sgdpoRows), Map.entry("dpo", runs.dpoRows));
        for (int i = 0; i < 2; i++) {
            Row r = rows.get(i);
            List<Map<String, Object>> metrics = byRole.get(i).getValue();
            assertEquals(byRole.get(i).getKey(), r.getAs("role"), title + " role");
            assertEquals(runId(metrics), r.getAs("run"), title + " run label");
            assertEquals(TinyRuns.STEPS, ((Number) r.getAs("last_step")).longValue(), title + " last step");
            assertEquals(withKey(metrics, "loss").size(), ((Number) r.getAs("train_rows")).intValue(), title);
            assertEquals(withKey(metrics, "eval_loss").size(), ((Number) r.getAs("eval_steps")).intValue(), title);
            assertEquals(TinyRuns.STEPS / TinyRuns.EVAL_EVERY + 1, ((Number) r.getAs("eval_steps")).intValue(),
                    title + ": eval at step 0, every " + TinyRuns.EVAL_EVERY + " steps and at the end");
        }
    }

    /** A line chart's rows (step, run, value): the same points and values as the metrics rows. */
    private static void checkSeries(String title, List<Row> rows, String key) {
        Map<String, Double> actual = new TreeMap<>();
        for (Row r : rows) {
            actual.put(r.getString(1) + "@" + r.getLong(0), r.getDouble(2));
        }
        assertEquals(rows.size(), actual.size(), title + ": one row per run and step");
        assertSameValues(expected(key, ""), actual, title);
    }

    private static void checkRewards(String title, List<Row> rows) {
        Map<String, Double> actual = new TreeMap<>();
        for (Row r : rows) {
            actual.put(r.<String>getAs("series") + "@" + r.<Long>getAs("step"), r.<Double>getAs("reward"));
        }
        Map<String, Double> expected = new TreeMap<>(expected("eval_rewards/chosen", " chosen"));
        expected.putAll(expected("eval_rewards/rejected", " rejected"));
        assertEquals(rows.size(), actual.size(), title);
        assertSameValues(expected, actual, title);
    }

    private static void checkFinal(String title, List<Row> rows) {
        assertEquals(2, rows.size(), title);
        for (List<Map<String, Object>> metrics : List.of(runs.sgdpoRows, runs.dpoRows)) {
            Row r = rows.stream().filter(x -> x.getAs("run").equals(runId(metrics))).findFirst()
                    .orElseThrow(() -> new AssertionError(title + ": no row for " + runId(metrics)));
            List<Map<String, Object>> evals = withKey(metrics, "eval_loss");
            Map<String, Object> first = evals.get(0);
            Map<String, Object> last = evals.get(evals.size() - 1);
            assertEquals(((Number) last.get("step")).longValue(), r.<Long>getAs("step"), title + " step");
            Map<String, String> columns = Map.of("eval_loss", "eval_loss", "eval_accuracy", "eval_rewards/accuracies",
                    "eval_margin", "eval_rewards/margins", "eval_chosen", "eval_rewards/chosen",
                    "eval_rejected", "eval_rewards/rejected");
            columns.forEach((column, key) -> assertEquals(value(last, key), r.<Double>getAs(column), 1e-12,
                    title + " " + column));
            assertEquals(value(last, "eval_logps/chosen") - value(first, "eval_logps/chosen"),
                    r.<Double>getAs("logps_chosen_change"), 1e-9, title + " logps_chosen_change");
            assertEquals(value(last, "eval_logps/rejected") - value(first, "eval_logps/rejected"),
                    r.<Double>getAs("logps_rejected_change"), 1e-9, title + " logps_rejected_change");
        }
    }

    private static void checkComparison(String title, List<Row> rows) {
        List<Map<String, Object>> s = withKey(runs.sgdpoRows, "eval_loss");
        List<Map<String, Object>> d = withKey(runs.dpoRows, "eval_loss");
        assertEquals(s.size(), rows.size(), title + ": one row per shared eval step");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            assertEquals(((Number) s.get(i).get("step")).longValue(), r.<Long>getAs("step"), title);
            assertEquals(value(s.get(i), "eval_rewards/chosen"), r.<Double>getAs("sgdpo_chosen"), 1e-12, title);
            assertEquals(value(d.get(i), "eval_rewards/chosen"), r.<Double>getAs("dpo_chosen"), 1e-12, title);
            assertEquals(value(s.get(i), "eval_rewards/accuracies") - value(d.get(i), "eval_rewards/accuracies"),
                    r.<Double>getAs("accuracy_gap"), 1e-12, title);
            assertEquals(value(s.get(i), "eval_rewards/chosen") - value(d.get(i), "eval_rewards/chosen"),
                    r.<Double>getAs("chosen_gap"), 1e-12, title);
        }
    }
}
