package io.sgdpo.prep;

import com.fasterxml.jackson.databind.JsonNode;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.prep.tokenize.TokenizerSpec;
import io.sgdpo.prep.tokenize.Vocabulary;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The job on crafted inputs: one line per kind of defect, Parquet and per-file format detection,
 * reruns, rebuilds, failure on too many rejects, config and path errors, a Hugging Face tokenizer.
 */
@Tag("spark")
class PrepJobBehaviourTest {

    private static SparkSession spark;
    private static Path tmp;
    private static Path craftedDir;
    /** "file name:line" -> expected reason id, for every defect written into the crafted folder. */
    private static final Map<String, String> EXPECTED = new TreeMap<>();
    /** Prompts may fill the whole budget, so that a long one leaves no room for a response. */
    private static final Map<String, String> SHORT = Map.of(
            "prep.maxPromptLength", "40", "prep.maxTotalLength", "40", "tokenizer.vocabSize", "50",
            "prep.maxRejectFraction", "1.0");

    @BeforeAll
    static void setUp() throws IOException {
        spark = TestSupport.spark("local[2]");
        tmp = Files.createTempDirectory("prep-behaviour");
        craftedDir = tmp.resolve("crafted");
        Files.createDirectories(craftedDir.resolve("sub"));

        ByteArrayOutputStream pairs = new ByteArrayOutputStream();
        line(pairs, "{\"prompt\":\"What is 2+2?\",\"chosen\":\"4\",\"rejected\":\"5\"}");
        defect(pairs, "pairs.jsonl", 2, "malformed_json", "{\"prompt\":\"p\",\"chosen\":\"a\"");
        defect(pairs, "pairs.jsonl", 3, "missing_field", "{\"prompt\":\"p\",\"chosen\":\"a\"}");
        defect(pairs, "pairs.jsonl", 4, "empty_field", "{\"prompt\":\"  \",\"chosen\":\"a\",\"rejected\":\"b\"}");
        defect(pairs, "pairs.jsonl", 5, "non_string_field", "{\"prompt\":\"p\",\"chosen\":42,\"rejected\":\"b\"}");
        defect(pairs, "pairs.jsonl", 6, "identical_responses", "{\"prompt\":\"p\",\"chosen\":\"same\",\"rejected\":\"same\"}");
        byte[] bad = "{\"prompt\":\"p?\",\"chosen\":\"a\",\"rejected\":\"b\"}\n".getBytes(StandardCharsets.UTF_8);
        bad[12] = (byte) 0xC3; // a lead byte followed by an ASCII quote: invalid UTF-8
        pairs.write(bad);
        EXPECTED.put("pairs.jsonl:7", "invalid_utf8");
        defect(pairs, "pairs.jsonl", 8, "empty_after_truncation",
                "{\"prompt\":\"" + "a long prompt that certainly takes more than forty tokens ".repeat(6)
                        + "\",\"chosen\":\"yes\",\"rejected\":\"no\"}");
        defect(pairs, "pairs.jsonl", 9, "duplicate", "{\"prompt\":\" What is 2+2?\\r\\n\",\"chosen\":\"4\",\"rejected\":\"5\"}");
        defect(pairs, "pairs.jsonl", 10, "malformed_json", "");
        defect(pairs, "pairs.jsonl", 11, "invalid_utf8", "{\"prompt\":\"p\\udc00\",\"chosen\":\"a\",\"rejected\":\"b\"}");
        line(pairs, "{\"prompt\":\"Hi\",\"chosen\":[{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":\"assistant\","
                + "\"content\":\"Hello!\"}],\"rejected\":[{\"role\":\"user\",\"content\":\"Hi\"},"
                + "{\"role\":\"assistant\",\"content\":\"Go away\"}]}");
        Files.write(craftedDir.resolve("pairs.jsonl"), pairs.toByteArray());

        ByteArrayOutputStream hh = new ByteArrayOutputStream();
        line(hh, "{\"chosen\":\"\\n\\nHuman: hi\\n\\nAssistant: hello\",\"rejected\":\"\\n\\nHuman: hi\\n\\nAssistant: bye\"}");
        defect(hh, "hh.jsonl", 2, "hh_prompt_mismatch",
                "{\"chosen\":\"\\n\\nHuman: hi\\n\\nAssistant: hello\",\"rejected\":\"\\n\\nHuman: yo\\n\\nAssistant: bye\"}");
        defect(hh, "hh.jsonl", 3, "hh_no_assistant_turn", "{\"chosen\":\"\\n\\nHuman: hi\",\"rejected\":\"\\n\\nHuman: hi\"}");
        Files.write(craftedDir.resolve("sub/hh.jsonl"), hh.toByteArray());

        // Parquet with chat-list responses; row 2 lacks the rejected column value.
        StructType msg = new StructType().add("role", DataTypes.StringType).add("content", DataTypes.StringType);
        StructType schema = new StructType().add("prompt", DataTypes.StringType)
                .add("chosen", DataTypes.createArrayType(msg)).add("rejected", DataTypes.createArrayType(msg));
        List<Row> rows = List.of(
                RowFactory.create("Name a color", List.of(RowFactory.create("user", "Name a color"),
                        RowFactory.create("assistant", "Blue")), List.of(RowFactory.create("user", "Name a color"),
                        RowFactory.create("assistant", "Cheese"))),
                RowFactory.create("Name a fruit", List.of(RowFactory.create("user", "Name a fruit"),
                        RowFactory.create("assistant", "Apple")), null));
        Path parquetTmp = tmp.resolve("pq");
        spark.createDataFrame(rows, schema).coalesce(1).write().parquet(parquetTmp.toString());
        try (var s = Files.list(parquetTmp)) {
            Path part = s.filter(p -> p.getFileName().toString().endsWith(".parquet")).findFirst().orElseThrow();
            Files.move(part, craftedDir.resolve("sub/chat.parquet"));
        }
        EXPECTED.put("chat.parquet:2", "missing_field");
    }

    private static void line(ByteArrayOutputStream out, String s) {
        out.writeBytes((s + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void defect(ByteArrayOutputStream out, String file, int lineNo, String reason, String s) {
        EXPECTED.put(file + ":" + lineNo, reason);
        line(out, s);
    }

    @AfterAll
    static void tearDown() throws IOException {
        spark.stop();
        TestSupport.deleteRecursively(tmp);
    }

    @Test
    void everyDefectLandsInRejectsWithItsReason() {
        PrepJob.Result r = PrepJob.run(spark, List.of(craftedDir.toString()), tmp.resolve("out-defects").toString(),
                TestSupport.config(SHORT));
        Map<String, String> got = new TreeMap<>();
        for (Row row : spark.read().parquet(r.output() + "/rejects").collectAsList()) {
            String file = Path.of(row.<String>getAs(PairSchema.SOURCE_FILE)).getFileName().toString();
            got.put(file + ":" + row.<Long>getAs(PairSchema.LINE), row.getAs(PairSchema.REASON));
            assertTrue(row.<String>getAs(PairSchema.SOURCE_FILE).startsWith("file:"), "full source path");
            if (!row.<String>getAs(PairSchema.REASON).equals("malformed_json") || row.<Long>getAs(PairSchema.LINE) != 10) {
                assertFalse(row.<String>getAs(PairSchema.RAW).isEmpty(), "raw record kept");
            }
        }
        assertEquals(EXPECTED, got);

        JsonNode c = r.manifest().json().path("counts");
        assertEquals(17, c.path("read").asLong());
        assertEquals(EXPECTED.size(), c.path("rejected").asLong());
        assertEquals(17 - EXPECTED.size(), c.path("kept").asLong());
        assertEquals(1, c.path("duplicates").asLong());
        Map<String, String> formats = new HashMap<>();
        r.manifest().json().path("inputs").forEach(in -> formats.put(Path.of(in.path("path").asText()).getFileName().toString(),
                in.path("format").asText() + "/" + in.path("kind").asText()));
        assertEquals(Map.of("pairs.jsonl", "pairs/jsonl", "hh.jsonl", "hh/jsonl", "chat.parquet", "pairs/parquet"), formats);

        Vocabulary vocab = Vocabulary.fromJson(read(r.output() + "/vocab.json"));
        Map<String, String> chosenBySource = new HashMap<>();
        for (Row row : spark.read().parquet(r.output() + "/pairs").collectAsList()) {
            chosenBySource.merge(row.getAs(PairSchema.SOURCE), vocab.decode(PairSchema.ids(row, PairSchema.CHOSEN_IDS)),
                    (a, b) -> a + "|" + b);
        }
        assertEquals(" hello", chosenBySource.get("hh.jsonl"));
        assertEquals("Blue", chosenBySource.get("chat.parquet"));
        assertEquals(2, chosenBySource.get("pairs.jsonl").split("\\|").length);
    }

    @Test
    void tooManyRejectsFailsLoudlyAndKeepsThePreviousOutput() {
        String out = tmp.resolve("out-fail").toString();
        PrepJob.Result first = PrepJob.run(spark, List.of(craftedDir.toString()), out, TestSupport.config(SHORT));
        String manifestBefore = read(out + "/_manifest.json");

        Map<String, String> strict = new HashMap<>(SHORT);
        strict.put("prep.maxRejectFraction", "0.25");
        PrepException e = assertThrows(PrepException.class,
                () -> PrepJob.run(spark, List.of(craftedDir.toString()), out, TestSupport.config(strict)));
        assertTrue(e.getMessage().contains("prep.maxRejectFraction"), e.getMessage());
        assertTrue(e.getMessage().contains(String.format("%.4f", 13.0 / 17)), e.getMessage());
        // The job died after writing part of its new output: the old one is still whole.
        assertEquals(manifestBefore, read(out + "/_manifest.json"));
        assertEquals(first.manifest().json().path("counts").path("kept").asLong(), spark.read().parquet(out + "/pairs").count());
    }

    @Test
    void changedInputOrConfigRebuildsSameDoesNothing() throws IOException {
        Path input = tmp.resolve("copy/eval.jsonl.gz");
        Files.createDirectories(input.getParent());
        Files.copy(TestSupport.sharedData("ultrafeedback/eval.jsonl.gz"), input);
        String out = tmp.resolve("out-rerun").toString();
        Map<String, String> conf = Map.of("tokenizer.vocabSize", "300", "prep.maxTotalLength", "128",
                "prep.maxPromptLength", "64");
        PrepJob.Result a = PrepJob.run(spark, List.of(input.toString()), out, TestSupport.config(conf));
        assertEquals(PrepJob.Status.BUILT, a.status());
        assertEquals(200, a.manifest().json().path("counts").path("read").asLong());
        assertEquals(PrepJob.Status.UP_TO_DATE,
                PrepJob.run(spark, List.of(input.toString()), out, TestSupport.config(conf)).status());

        Map<String, String> changed = new HashMap<>(conf);
        changed.put("prep.evalFraction", "0.5");
        PrepJob.Result b = PrepJob.run(spark, List.of(input.toString()), out, TestSupport.config(changed));
        assertEquals(PrepJob.Status.BUILT, b.status());
        assertNotEquals(a.manifest().json().path("fingerprint"), b.manifest().json().path("fingerprint"));
        assertTrue(b.manifest().json().path("counts").path("splits").path("eval").asLong()
                > a.manifest().json().path("counts").path("splits").path("eval").asLong());

        // Same content, other bytes: gzip the file again with one more record appended.
        List<String> lines = PrepSharedDataTest.readLines(input);
        lines.add("{\"prompt\":\"new\",\"chosen\":\"a\",\"rejected\":\"b\"}");
        try (var gz = new java.util.zip.GZIPOutputStream(Files.newOutputStream(input,
                StandardOpenOption.TRUNCATE_EXISTING))) {
            gz.write((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        }
        PrepJob.Result c = PrepJob.run(spark, List.of(input.toString()), out, TestSupport.config(changed));
        assertEquals(PrepJob.Status.BUILT, c.status());
        assertEquals(201, c.manifest().json().path("counts").path("read").asLong());
        try (var s = Files.list(tmp)) {
            assertEquals(0, s.filter(p -> p.getFileName().toString().startsWith(".out-rerun")).count(),
                    "no temporary or moved-aside folders left behind");
        }
    }

    @Test
    void badConfigAndPathsAreNamed() {
        ConfigurationException range = assertThrows(ConfigurationException.class, () -> PrepJob.run(spark,
                List.of(craftedDir.toString()), tmp.resolve("x").toString(),
                TestSupport.config(Map.of("prep.evalFraction", "1.5"))));
        assertTrue(range.getMessage().contains("prep.evalFraction"), range.getMessage());
        ConfigurationException type = assertThrows(ConfigurationException.class, () -> PrepJob.run(spark,
                List.of(craftedDir.toString()), tmp.resolve("x").toString(),
                TestSupport.config(Map.of("prep.maxTotalLength", "lots"))));
        assertTrue(type.getMessage().contains("prep.maxTotalLength"), type.getMessage());
        ConfigurationException unknown = assertThrows(ConfigurationException.class,
                () -> TestSupport.config(Map.of("prep.maxTotalLenght", "5")));
        assertTrue(unknown.getMessage().contains("prep.maxTotalLenght"), unknown.getMessage());
        String missing = tmp.resolve("no/such/file.jsonl").toString();
        PrepException path = assertThrows(PrepException.class, () -> PrepJob.run(spark, List.of(missing),
                tmp.resolve("x").toString(), TestSupport.config(Map.of())));
        assertTrue(path.getMessage().contains(missing), path.getMessage());
        ConfigurationException tok = assertThrows(ConfigurationException.class, () -> PrepJob.run(spark,
                List.of(craftedDir.toString()), tmp.resolve("x").toString(),
                TestSupport.config(Map.of("tokenizer.type", "huggingface", "tokenizer.path", missing))));
        assertTrue(tok.getMessage().contains("tokenizer.path") && tok.getMessage().contains(missing), tok.getMessage());
        PrepException inside = assertThrows(PrepException.class, () -> PrepJob.run(spark,
                List.of(craftedDir.toString()), craftedDir.resolve("out").toString(), TestSupport.config(SHORT)));
        assertTrue(inside.getMessage().contains("lies inside input"), inside.getMessage());
        assertFalse(Files.exists(tmp.resolve("x")));
        assertFalse(Files.exists(craftedDir.resolve("out")));
    }

    @Test
    void cleanInputGivesEmptyButReadableRejects() throws IOException {
        Path clean = tmp.resolve("clean/one.jsonl");
        Files.createDirectories(clean.getParent());
        Files.writeString(clean, "{\"prompt\":\"Q\",\"chosen\":\"yes\",\"rejected\":\"no\"}\n");
        PrepJob.Result r = PrepJob.run(spark, List.of(clean.toString()), tmp.resolve("out-clean").toString(),
                TestSupport.config(Map.of("prep.maxRejectFraction", "0")));
        assertEquals(1, r.manifest().json().path("counts").path("kept").asLong());
        assertEquals(0, spark.read().parquet(r.output() + "/rejects").count());
        assertEquals(PairSchema.REJECTS.fieldNames().length,
                spark.read().parquet(r.output() + "/rejects").schema().fieldNames().length);
    }

    @Test
    void exampleConfigFileIsValid() {
        Path example = Path.of("..", "conf", "prep.conf");
        assertTrue(Files.isRegularFile(example), "missing " + example.toAbsolutePath());
        PrepSettings s = PrepSettings.from(io.sgdpo.config.SgdpoConfig.load(example.toFile(), Map.of()));
        assertEquals(0.1, s.evalFraction(), 0.0);
        assertEquals(16000, s.vocabSize());
    }

    @Test
    void huggingFaceTokenizerFromConfig() throws IOException {
        Path tok = tmp.resolve("tok/tokenizer.json");
        Files.createDirectories(tok.getParent());
        Files.writeString(tok, VocabularyTest.TINY_TOKENIZER);
        Map<String, String> conf = new HashMap<>(SHORT);
        conf.put("tokenizer.type", "huggingface");
        conf.put("tokenizer.path", tok.toString());
        PrepJob.Result r = PrepJob.run(spark, List.of(craftedDir.resolve("pairs.jsonl").toString()),
                tmp.resolve("out-hf").toString(), TestSupport.config(conf));
        String identity = r.manifest().json().path("tokenizer").path("identity").asText();
        assertTrue(identity.startsWith("huggingface:sha256:"), identity);
        TokenizerSpec spec = TokenizerSpec.huggingFace(tok.toString(), Files.readAllBytes(tok));
        Vocabulary vocab = Vocabulary.fromJson(read(r.output() + "/vocab.json"), spec);
        List<String> prompts = spark.read().parquet(r.output() + "/pairs").collectAsList().stream()
                .map(row -> vocab.decode(PairSchema.ids(row, PairSchema.PROMPT_IDS))).sorted().toList();
        assertEquals(List.of("Hi", "What is 2+2?"), prompts);
    }

    private static String read(String hadoopPath) {
        try {
            return Files.readString(Path.of(new org.apache.hadoop.fs.Path(hadoopPath).toUri().getPath()));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
