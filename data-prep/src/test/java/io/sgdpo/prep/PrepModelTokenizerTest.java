package io.sgdpo.prep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.prep.tokenize.ModelTokenizer;
import io.sgdpo.prep.tokenize.TokenCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Prep with a model's own tokenizer ({@code tokenizer.from}): every stored id is exactly what the
 * model's tokenizer gives (ids are integers: compared exactly), BOS first and EOS after each
 * complete response, no trimmed vocabulary, the tokenizer's identity in the manifest, message-list
 * prompts through the chat template, and counts that reconcile.
 */
@Tag("spark")
class PrepModelTokenizerTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int RECORDS = 200;
    private static SparkSession spark;
    private static Path tmp;

    @BeforeAll
    static void start() throws Exception {
        spark = TestSupport.spark("local[2]");
        tmp = Files.createTempDirectory("prep-model-tokenizer");
    }

    @AfterAll
    static void stop() throws Exception {
        TestSupport.deleteRecursively(tmp);
    }

    @Test
    void hhPairsEncodedWithStories260kAreExactlyTheTokenizersIds() throws Exception {
        Path model = TestSupport.sharedModel("stories260K");
        Path input = tmp.resolve("hh.jsonl");
        List<String> lines = PrepSharedDataTest.readLines(TestSupport.sharedData("hh-rlhf/harmless-base-test.jsonl.gz"))
                .subList(0, RECORDS);
        Files.write(input, lines, StandardCharsets.UTF_8);
        Map<String, String> conf = Map.of("tokenizer.from", model.toString(), "prep.maxPromptLength", "96",
                "prep.maxTotalLength", "160", "prep.evalFraction", "0.2", "prep.maxRejectFraction", "0.5");
        PrepJob.Result r = PrepJob.run(spark, List.of(input.toString()), tmp.resolve("out").toString(),
                TestSupport.config(conf));

        ModelTokenizer tok = ModelTokenizer.open(model.toString(), new Configuration());
        JsonNode m = r.manifest().json();
        assertEquals("model", m.path("tokenizer").path("type").asText());
        assertEquals(tok.identity(), m.path("tokenizer").path("identity").asText());
        assertEquals(512, m.path("vocabulary").path("size").asInt());
        assertEquals(RECORDS, m.path("counts").path("read").asLong());
        assertEquals(m.path("counts").path("read").asLong(),
                m.path("counts").path("kept").asLong() + m.path("counts").path("rejected").asLong());
        TokenCodec stored = TokenCodec.fromJson(Files.readString(Path.of(r.output().replace("file:", ""),
                PairSchema.VOCAB_FILE)));
        assertEquals(tok.identity(), stored.identity());

        // The expected ids of every pair, computed here from the raw records with the tokenizer itself.
        RecordParser parser = RecordParser.defaults();
        Map<String, ParsedRecord> byId = new HashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            ParsedRecord p = parser.parse(lines.get(i), InputFormat.HH, "hh", 0, i + 1);
            if (p.isPair()) {
                byId.put(p.pairId, p);
            }
        }
        List<Row> rows = spark.read().parquet(r.output() + "/" + PairSchema.PAIRS_DIR).collectAsList();
        assertEquals(m.path("counts").path("kept").asLong(), rows.size());
        int complete = 0;
        for (Row row : rows) {
            ParsedRecord p = byId.get(row.getAs(PairSchema.PAIR_ID));
            int[] prompt = ints(row, PairSchema.PROMPT_IDS);
            int[] chosen = ints(row, PairSchema.CHOSEN_IDS);
            assertEquals(1, prompt[0], "every prompt starts with BOS, truncated or not");
            int[] expectedPrompt = tok.encodePrompt(p.prompt);
            if (expectedPrompt.length <= 96) {
                assertArrayEquals(expectedPrompt, prompt);
            } else {
                assertEquals(expectedPrompt[expectedPrompt.length - 1], prompt[prompt.length - 1]);
                assertEquals(96, prompt.length);
            }
            int[] expectedChosen = tok.encodeResponse(p.prompt, p.chosen);
            if (chosen[chosen.length - 1] == 2) {
                complete++;
                assertArrayEquals(expectedChosen, java.util.Arrays.copyOf(chosen, chosen.length - 1));
            } else {
                assertArrayEquals(java.util.Arrays.copyOf(expectedChosen, chosen.length), chosen);
            }
            for (String column : new String[] {PairSchema.PROMPT_IDS, PairSchema.CHOSEN_IDS, PairSchema.REJECTED_IDS}) {
                for (int id : ints(row, column)) {
                    assertTrue(id >= 0 && id < 512, column + " id " + id);
                }
            }
        }
        assertTrue(complete > rows.size() / 2, "most chosen responses fit and end with EOS: " + complete);

        PrepJob.Result again = PrepJob.run(spark, List.of(input.toString()), tmp.resolve("out").toString(),
                TestSupport.config(conf));
        assertEquals(PrepJob.Status.UP_TO_DATE, again.status());
        Map<String, String> otherModel = new HashMap<>(conf);
        otherModel.put("tokenizer.from", TestSupport.sharedModel("tiny-qwen2-random").toString());
        PrepJob.Result other = PrepJob.run(spark, List.of(input.toString()), tmp.resolve("out").toString(),
                TestSupport.config(otherModel));
        assertEquals(PrepJob.Status.BUILT, other.status(), "another chat template and special ids: a rebuild");
        assertNotEquals(r.manifest().json().path("fingerprint").asText(), other.manifest().json().path("fingerprint").asText());
    }

    @Test
    void messageListPromptsGoThroughTheChatTemplate() throws Exception {
        Path model = TestSupport.sharedModel("tiny-qwen2-random");
        JsonNode chat = JSON.readTree(model.resolve("reference.json").toFile()).path("chat");
        ObjectNode record = JSON.createObjectNode();
        record.set("prompt", chat.path("messages"));
        record.put("chosen", "The frog sang a song.");
        record.put("rejected", "No.");
        ObjectNode plain = JSON.createObjectNode();
        plain.put("prompt", "A plain prompt.");
        plain.put("chosen", "Yes.");
        plain.put("rejected", "No.");
        ArrayNode badOrder = JSON.createArrayNode();
        badOrder.addObject().put("role", "user"); // no content: rejected by validation, not the template
        ObjectNode bad = JSON.createObjectNode();
        bad.set("prompt", badOrder);
        bad.put("chosen", "a");
        bad.put("rejected", "b");
        Path input = tmp.resolve("chat.jsonl");
        Files.write(input, List.of(record.toString(), plain.toString(), bad.toString()), StandardCharsets.UTF_8);
        PrepJob.Result r = PrepJob.run(spark, List.of(input.toString()), tmp.resolve("chat-out").toString(),
                TestSupport.config(Map.of("tokenizer.from", model.toString(), "prep.maxPromptLength", "160",
                        "prep.maxTotalLength", "224", "prep.evalFraction", "0", "prep.maxRejectFraction", "0.5")));
        assertEquals(3, r.manifest().json().path("counts").path("read").asLong());
        assertEquals(1, r.manifest().json().path("counts").path("rejected").asLong());
        assertTrue(r.manifest().json().path("tokenizer").path("chatTemplate").asBoolean());
        List<Row> rows = spark.read().parquet(r.output() + "/" + PairSchema.PAIRS_DIR).collectAsList();
        assertEquals(2, rows.size());
        ModelTokenizer tok = ModelTokenizer.open(model.toString(), new Configuration());
        boolean sawChat = false;
        for (Row row : rows) {
            int[] prompt = ints(row, PairSchema.PROMPT_IDS);
            if (prompt.length > 40) {
                sawChat = true;
                int[] expected = new int[chat.path("ids").size()];
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = chat.path("ids").get(i).asInt();
                }
                assertArrayEquals(expected, prompt, "the rendered chat's ids, as the reference computed them");
            } else {
                assertArrayEquals(tok.encodePrompt("A plain prompt."), prompt, "a string prompt is not templated");
            }
        }
        assertTrue(sawChat);
    }

    private static int[] ints(Row row, String column) {
        List<Integer> list = row.getList(row.fieldIndex(column));
        return list.stream().mapToInt(Integer::intValue).toArray();
    }
}
