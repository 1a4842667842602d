package io.sgdpo.prep;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.Config;
import io.sgdpo.prep.tokenize.Vocabulary;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Full runs over the shared HH-RLHF and UltraFeedback files, under local[1] and local[2].
 *
 * <p>This class needs two Spark sessions one after the other (Spark allows one per JVM): the
 * local[1] runs happen first in {@link #runAll()}, then the local[2] session serves every test.
 */
@Tag("spark")
class PrepSharedDataTest {

    private static final Map<String, String> SMALL = Map.of(
            "tokenizer.vocabSize", "2000",
            "prep.maxPromptLength", "192",
            "prep.maxTotalLength", "320",
            "prep.shardTargetBytes", "1MiB");

    private static Path tmp;
    private static SparkSession spark;
    private static Path hh;
    private static Path ufTrain;
    private static Path ufEval;
    private static PrepJob.Result hh1;
    private static PrepJob.Result hh2;
    private static PrepJob.Result uf1;
    private static PrepJob.Result uf2;

    @BeforeAll
    static void runAll() throws IOException {
        hh = TestSupport.sharedData("hh-rlhf/harmless-base-test.jsonl.gz");
        ufTrain = TestSupport.sharedData("ultrafeedback/train.jsonl.gz");
        ufEval = TestSupport.sharedData("ultrafeedback/eval.jsonl.gz");
        tmp = Files.createTempDirectory("prep-shared");
        Config config = TestSupport.config(SMALL);

        SparkSession one = TestSupport.spark("local[1]");
        try {
            hh1 = PrepJob.run(one, List.of(hh.toString()), tmp.resolve("hh-l1").toString(), config);
            uf1 = PrepJob.run(one, List.of(ufTrain.toString(), ufEval.toString()),
                    tmp.resolve("uf-l1").toString(), config);
        } finally {
            one.stop();
        }
        spark = TestSupport.spark("local[2]");
        hh2 = PrepJob.run(spark, List.of(hh.toString()), tmp.resolve("hh-l2").toString(), config);
        uf2 = PrepJob.run(spark, List.of(ufTrain.toString(), ufEval.toString()),
                tmp.resolve("uf-l2").toString(), config);
    }

    @AfterAll
    static void stop() throws IOException {
        if (spark != null) {
            spark.stop();
        }
        TestSupport.deleteRecursively(tmp);
    }

    @Test
    void hhCountsReconcile() throws IOException {
        assertEquals(PrepJob.Status.BUILT, hh2.status());
        JsonNode c = hh2.manifest().json().path("counts");
        assertEquals(countLines(hh), c.path("read").asLong());
        assertEquals(2312, c.path("read").asLong());
        assertReconciles(hh2);
        // The data set's README: some HH transcripts differ before the last turn.
        assertTrue(c.path("rejectedByReason").path("hh_prompt_mismatch").asLong() > 0, c.toString());
        assertEquals("hh", hh2.manifest().json().path("inputs").get(0).path("format").asText());
    }

    @Test
    void ultraFeedbackCountsReconcile() throws IOException {
        JsonNode c = uf2.manifest().json().path("counts");
        assertEquals(countLines(ufTrain) + countLines(ufEval), c.path("read").asLong());
        assertEquals(1200, c.path("read").asLong());
        assertReconciles(uf2);
        // README: 4 + 1 pairs with chosen == rejected.
        assertTrue(c.path("rejectedByReason").path("identical_responses").asLong() >= 5, c.toString());
        assertEquals("pairs", uf2.manifest().json().path("inputs").get(1).path("format").asText());
    }

    @Test
    void everyKeptPairDecodesToItsText() throws IOException {
        checkDecodes(hh2, List.of(hh), InputFormat.HH);
        checkDecodes(uf2, List.of(ufTrain, ufEval), InputFormat.PAIRS);
    }

    @Test
    void outputIsTheSameUnderLocal1AndLocal2() {
        for (PrepJob.Result[] pair : new PrepJob.Result[][]{{hh1, hh2}, {uf1, uf2}}) {
            Map<String, Row> a = pairsById(pair[0]);
            Map<String, Row> b = pairsById(pair[1]);
            assertEquals(a.keySet(), b.keySet());
            for (Map.Entry<String, Row> e : a.entrySet()) {
                Row ra = e.getValue();
                Row rb = b.get(e.getKey());
                assertEquals(ra.getAs(PairSchema.SPLIT), (Object) rb.getAs(PairSchema.SPLIT));
                for (String col : List.of(PairSchema.PROMPT_IDS, PairSchema.CHOSEN_IDS, PairSchema.REJECTED_IDS)) {
                    assertArrayEquals(PairSchema.ids(ra, col), PairSchema.ids(rb, col), col + " of " + e.getKey());
                }
            }
            assertEquals(pair[0].manifest().json().path("fingerprint"), pair[1].manifest().json().path("fingerprint"));
            assertEquals(pair[0].manifest().json().path("vocabulary").path("sha256"),
                    pair[1].manifest().json().path("vocabulary").path("sha256"));
            assertEquals(pair[0].manifest().json().path("counts"), pair[1].manifest().json().path("counts"));
        }
    }

    @Test
    void splitFollowsPairIdAndEvalFraction() {
        Map<String, Row> rows = pairsById(hh2);
        long eval = 0;
        for (Map.Entry<String, Row> e : rows.entrySet()) {
            String split = e.getValue().getAs(PairSchema.SPLIT);
            assertEquals(PairId.split(e.getKey(), 0.05), split);
            eval += PairSchema.EVAL.equals(split) ? 1 : 0;
        }
        // 5% of ~2.2k pairs: a binomial count far from 0 and from the whole.
        assertTrue(eval > 60 && eval < 170, "eval pairs: " + eval);
        assertEquals(eval, hh2.manifest().json().path("counts").path("splits").path("eval").asLong());
    }

    @Test
    void shardsHaveTheDocumentedSchemaAndAreQueryableWithSql() {
        String dir = hh2.output() + "/" + PairSchema.PAIRS_DIR;
        spark.read().parquet(dir).createOrReplaceTempView("hh_pairs");
        Row r = spark.sql("SELECT count(*), sum(CASE WHEN size(chosen_ids) = chosen_len THEN 1 ELSE 0 END),"
                + " max(prompt_len), max(prompt_len + chosen_len), count(DISTINCT source) FROM hh_pairs").first();
        long kept = hh2.manifest().json().path("counts").path("kept").asLong();
        assertEquals(kept, r.getLong(0));
        assertEquals(kept, r.getLong(1));
        assertTrue(r.getInt(2) <= 192);
        assertTrue(r.getInt(3) <= 320);
        assertEquals(1, r.getLong(4));
        assertEquals(PairSchema.PAIRS.fieldNames().length, spark.read().parquet(dir).schema().fieldNames().length);
        assertArrayEquals(PairSchema.PAIRS.fieldNames(), spark.read().parquet(dir).schema().fieldNames());
        assertTrue(hh2.manifest().json().path("pairs").path("shards").asInt() > 1, "several shards expected at 1 MiB");
    }

    @Test
    void rerunWithSameInputsAndConfigIsANoOp() {
        PrepJob.Result again = PrepJob.run(spark, List.of(hh.toString()), hh2.output(), TestSupport.config(SMALL));
        assertEquals(PrepJob.Status.UP_TO_DATE, again.status());
        assertEquals(hh2.manifest().json().path("createdAt"), again.manifest().json().path("createdAt"));
    }

    // ---------------------------------------------------------------------------------------------

    private static void assertReconciles(PrepJob.Result result) {
        JsonNode c = result.manifest().json().path("counts");
        long read = c.path("read").asLong();
        long kept = c.path("kept").asLong();
        long rejected = c.path("rejected").asLong();
        assertEquals(read, kept + rejected);
        long byReason = 0;
        Map<String, Long> reasons = new HashMap<>();
        for (var it = c.path("rejectedByReason").fields(); it.hasNext(); ) {
            var e = it.next();
            byReason += e.getValue().asLong();
            reasons.put(e.getKey(), e.getValue().asLong());
        }
        assertEquals(rejected, byReason);
        assertEquals(c.path("duplicates").asLong(), reasons.get("duplicate"));
        assertEquals(kept, c.path("splits").path("train").asLong() + c.path("splits").path("eval").asLong());

        assertEquals(kept, spark.read().parquet(result.output() + "/pairs").count());
        assertEquals(kept, spark.read().parquet(result.output() + "/pairs").select("pair_id").distinct().count());
        List<Row> byReasonRows = spark.read().parquet(result.output() + "/rejects")
                .groupBy("reason").count().collectAsList();
        Map<String, Long> fromRejects = new HashMap<>();
        byReasonRows.forEach(r -> fromRejects.put(r.getString(0), r.getLong(1)));
        reasons.forEach((k, v) -> assertEquals(v, fromRejects.getOrDefault(k, 0L), "rejects with reason " + k));
        long perFile = 0;
        for (JsonNode in : result.manifest().json().path("inputs")) {
            perFile += in.path("read").asLong();
        }
        assertEquals(read, perFile);
    }

    private static void checkDecodes(PrepJob.Result result, List<Path> files, InputFormat format) throws IOException {
        Vocabulary vocab = Vocabulary.fromJson(Files.readString(Path.of(result.output().replace("file:", ""), "vocab.json")));
        // The expected texts come from parsing the files again outside Spark.
        Map<String, ParsedRecord> expected = new HashMap<>();
        RecordParser parser = RecordParser.defaults();
        for (Path f : files) {
            List<String> lines = readLines(f);
            for (int i = 0; i < lines.size(); i++) {
                ParsedRecord p = parser.parse(lines.get(i).getBytes(StandardCharsets.UTF_8), format, f.toString(), 0, i + 1);
                if (p.isPair()) {
                    expected.putIfAbsent(p.pairId, p);
                }
            }
        }
        long promptCut = 0;
        long chosenCut = 0;
        long rejectedCut = 0;
        for (Row row : spark.read().parquet(result.output() + "/pairs").collectAsList()) {
            ParsedRecord p = expected.get(row.<String>getAs(PairSchema.PAIR_ID));
            assertTrue(p != null, "pair id not in the input: " + row.getAs(PairSchema.PAIR_ID));
            int[] prompt = PairSchema.ids(row, PairSchema.PROMPT_IDS);
            byte[] promptBytes = vocab.decodeBytes(prompt);
            byte[] fullPrompt = p.prompt.getBytes(StandardCharsets.UTF_8);
            if (Arrays.equals(promptBytes, fullPrompt)) {
                assertEquals(p.prompt, vocab.decode(prompt));
            } else {
                promptCut++;
                assertEquals(192, prompt.length, "only a full-length prompt may differ from its text");
                assertTrue(endsWith(fullPrompt, promptBytes), "truncated prompt must be the end of the prompt");
            }
            int room = 320 - prompt.length;
            chosenCut += checkResponse(vocab, PairSchema.ids(row, PairSchema.CHOSEN_IDS), p.chosen, room);
            rejectedCut += checkResponse(vocab, PairSchema.ids(row, PairSchema.REJECTED_IDS), p.rejected, room);
        }
        JsonNode t = result.manifest().json().path("counts").path("truncated");
        assertEquals(promptCut, t.path("prompt").asLong());
        assertEquals(chosenCut, t.path("chosen").asLong());
        assertEquals(rejectedCut, t.path("rejected").asLong());
    }

    /** 1 if the response was truncated, 0 if complete; fails if the ids do not spell the text. */
    private static int checkResponse(Vocabulary vocab, int[] ids, String text, int room) {
        assertTrue(ids.length > 0 && ids.length <= room);
        if (ids[ids.length - 1] == Vocabulary.EOS_ID) {
            assertEquals(text, vocab.decode(ids));
            return 0;
        }
        assertEquals(room, ids.length, "a response without EOS must fill the length budget");
        byte[] full = text.getBytes(StandardCharsets.UTF_8);
        byte[] got = vocab.decodeBytes(ids);
        assertTrue(got.length <= full.length && Arrays.equals(got, Arrays.copyOf(full, got.length)),
                "truncated response must be the start of the response");
        return 1;
    }

    private static boolean endsWith(byte[] full, byte[] end) {
        return end.length <= full.length
                && Arrays.equals(end, Arrays.copyOfRange(full, full.length - end.length, full.length));
    }

    private static Map<String, Row> pairsById(PrepJob.Result r) {
        Map<String, Row> m = new HashMap<>();
        for (Row row : spark.read().parquet(r.output() + "/pairs").collectAsList()) {
            m.put(row.getAs(PairSchema.PAIR_ID), row);
        }
        return m;
    }

    static List<String> readLines(Path gz) throws IOException {
        List<String> out = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                new GZIPInputStream(Files.newInputStream(gz)), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                out.add(line);
            }
        }
        return out;
    }

    private static long countLines(Path gz) throws IOException {
        return readLines(gz).size();
    }
}
