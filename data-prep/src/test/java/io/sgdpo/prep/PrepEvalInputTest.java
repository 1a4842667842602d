package io.sgdpo.prep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.prep.tokenize.Segmenter;
import io.sgdpo.prep.tokenize.Segmenters;
import io.sgdpo.prep.tokenize.TokenizerSpec;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Eval inputs ({@code --eval-input}): slices of the shared UltraFeedback train and eval files, the
 * eval slice given as an eval input. Checks the split of every kept pair, the counts, a vocabulary
 * built from the train file's train-split text alone, which copy of a pair in both files is kept,
 * and the role in the manifest and in the fingerprint.
 */
@Tag("spark")
class PrepEvalInputTest {

    private static final double EVAL_FRACTION = 0.1;
    private static final int TRAIN_LINES = 150;
    private static final int EVAL_LINES = 60;
    /**
     * A vocabulary larger than the slices' distinct pieces, so nothing is trimmed and vocab.json
     * lists exactly the pieces counted, with their counts.
     */
    private static final Map<String, String> CONF = Map.of(
            "prep.evalFraction", Double.toString(EVAL_FRACTION),
            "tokenizer.vocabSize", "200000",
            "prep.maxPromptLength", "96",
            "prep.maxTotalLength", "160",
            "prep.maxRejectFraction", "0.5");

    private static SparkSession spark;
    private static Path tmp;
    private static Path trainFile;
    private static Path evalFile;
    private static List<String> trainLines;
    private static List<String> evalLines;
    /** The pair copied from the eval slice to the first line of the train slice. */
    private static String leakedId;
    private static PrepJob.Result result;

    @BeforeAll
    static void prep() throws IOException {
        spark = TestSupport.spark("local[2]");
        tmp = Files.createTempDirectory("prep-eval-input");
        List<String> train = PrepSharedDataTest.readLines(TestSupport.sharedData("ultrafeedback/train.jsonl.gz"));
        List<String> eval = PrepSharedDataTest.readLines(TestSupport.sharedData("ultrafeedback/eval.jsonl.gz"));
        evalLines = new ArrayList<>(eval.subList(0, EVAL_LINES));
        // A pair whose responses differ within their first 10 characters (at most 40 ids, within the
        // 64 left after the longest prompt), so truncation cannot reject it as identical.
        String leaked = evalLines.stream().filter(l -> {
            ParsedRecord p = parse(l);
            return p.isPair() && !prefix(p.chosen).equals(prefix(p.rejected));
        }).findFirst().orElseThrow();
        leakedId = parse(leaked).pairId;
        // First line of the first input: kept under plain input order, so only the eval-first
        // rule keeps the eval copy.
        trainLines = new ArrayList<>();
        trainLines.add(leaked);
        trainLines.addAll(train.subList(0, TRAIN_LINES));
        trainFile = writeGz(tmp.resolve("data/train.jsonl.gz"), trainLines);
        evalFile = writeGz(tmp.resolve("data/eval.jsonl.gz"), evalLines);
        result = PrepJob.run(spark, List.of(trainFile.toString()), List.of(evalFile.toString()),
                tmp.resolve("out").toString(), TestSupport.config(CONF));
    }

    @AfterAll
    static void stop() throws IOException {
        if (spark != null) {
            spark.stop();
        }
        TestSupport.deleteRecursively(tmp);
    }

    @Test
    void evalFilePairsAreAllEvalAndTrainFilePairsFollowTheHash() {
        assertEquals(PrepJob.Status.BUILT, result.status());
        long evalFromEvalFile = 0;
        long evalFromTrainFile = 0;
        long evalFileIdsTheHashWouldTrain = 0;
        for (Row row : pairs(result)) {
            String id = row.getAs(PairSchema.PAIR_ID);
            String split = row.getAs(PairSchema.SPLIT);
            String source = row.getAs(PairSchema.SOURCE);
            if (source.equals(evalFile.getFileName().toString())) {
                assertEquals(PairSchema.EVAL, split, "pair " + id + " of the eval input");
                evalFromEvalFile++;
                evalFileIdsTheHashWouldTrain += PairSchema.TRAIN.equals(PairId.split(id, EVAL_FRACTION)) ? 1 : 0;
            } else {
                assertEquals(trainFile.getFileName().toString(), source);
                assertEquals(PairId.split(id, EVAL_FRACTION), split, "pair " + id + " of the ordinary input");
                evalFromTrainFile += PairSchema.EVAL.equals(split) ? 1 : 0;
            }
        }
        // Both rules are exercised: the hash alone would have trained on most eval-file pairs, and
        // the ordinary input still gives hash-chosen eval pairs at evalFraction > 0.
        assertTrue(evalFileIdsTheHashWouldTrain > evalFromEvalFile / 2, "eval-file pairs the hash puts in train: "
                + evalFileIdsTheHashWouldTrain + " of " + evalFromEvalFile);
        assertTrue(evalFromTrainFile > 0, "the ordinary input gave no eval pair at evalFraction " + EVAL_FRACTION);

        JsonNode c = result.manifest().json().path("counts");
        assertEquals(evalFromEvalFile + evalFromTrainFile, c.path("splits").path("eval").asLong());
        assertEquals(evalFromEvalFile, input(result, evalFile).path("kept").asLong());
    }

    @Test
    void countsReconcile() {
        JsonNode c = result.manifest().json().path("counts");
        long read = c.path("read").asLong();
        assertEquals(trainLines.size() + evalLines.size(), read);
        assertEquals(read, c.path("kept").asLong() + c.path("rejected").asLong());
        assertEquals(c.path("kept").asLong(), c.path("splits").path("train").asLong()
                + c.path("splits").path("eval").asLong());
        assertEquals(c.path("kept").asLong(), spark.read().parquet(result.output() + "/pairs").count());
        assertEquals(c.path("rejected").asLong(), spark.read().parquet(result.output() + "/rejects").count());
        assertEquals(trainLines.size(), input(result, trainFile).path("read").asLong());
        assertEquals(evalLines.size(), input(result, evalFile).path("read").asLong());
        assertEquals(c.path("kept").asLong(), input(result, trainFile).path("kept").asLong()
                + input(result, evalFile).path("kept").asLong());
    }

    @Test
    void aPairInBothFilesIsKeptFromTheEvalFileOnly() {
        List<Row> kept = pairs(result).stream().filter(r -> leakedId.equals(r.getAs(PairSchema.PAIR_ID))).toList();
        assertEquals(1, kept.size());
        assertEquals(evalFile.getFileName().toString(), kept.get(0).getAs(PairSchema.SOURCE));
        assertEquals(PairSchema.EVAL, kept.get(0).getAs(PairSchema.SPLIT));
        List<Row> dup = spark.read().parquet(result.output() + "/rejects")
                .filter("reason = 'duplicate' AND line = 1").collectAsList();
        assertEquals(1, dup.size(), "the train file's copy (line 1) is the rejected duplicate");
        assertTrue(dup.get(0).<String>getAs(PairSchema.SOURCE_FILE).endsWith("/train.jsonl.gz"));
        assertTrue(dup.get(0).<String>getAs(PairSchema.DETAIL).contains("eval.jsonl.gz:"),
                dup.get(0).<String>getAs(PairSchema.DETAIL));
    }

    @Test
    void vocabularyCountsTheTrainSplitOfTheOrdinaryInputOnly() throws IOException {
        Config config = TestSupport.config(CONF);
        Segmenter seg = Segmenters.get(TokenizerSpec.fromConfig(config, new Configuration()));
        Set<String> evalIds = new HashSet<>();
        Map<String, Long> evalPieces = count(seg, evalLines, id -> evalIds.add(id));
        Set<String> seen = new HashSet<>();
        // What the job should count: the ordinary input's first copies, not in the eval input, hash-split train.
        Map<String, Long> expected = count(seg, trainLines, id -> !evalIds.contains(id) && seen.add(id)
                && PairSchema.TRAIN.equals(PairId.split(id, EVAL_FRACTION)));
        Map<String, Long> got = vocabCounts(result);
        Set<String> pieces = new HashSet<>(expected.keySet());
        pieces.addAll(got.keySet());
        // Named, not dumped: the maps hold thousands of pieces.
        List<String> wrong = pieces.stream().filter(k -> !java.util.Objects.equals(expected.get(k), got.get(k)))
                .sorted().limit(10).map(k -> "'" + k + "' expected " + expected.get(k) + ", got " + got.get(k)).toList();
        assertTrue(wrong.isEmpty(), "vocab.json counts differ from the train split's, e.g. " + wrong);
        assertEquals(expected.size(), got.size());

        Set<String> evalOnly = new HashSet<>(evalPieces.keySet());
        evalOnly.removeAll(expected.keySet());
        assertTrue(evalOnly.size() > 50, "pieces found only in the eval file: " + evalOnly.size());
        for (String piece : evalOnly) {
            assertFalse(got.containsKey(piece), "eval-only piece in vocab.json: " + piece);
        }
    }

    @Test
    void manifestRecordsRolesAndMovingAFileChangesTheFingerprint() {
        JsonNode inputs = result.manifest().json().path("inputs");
        assertEquals(2, inputs.size());
        assertTrue(inputs.get(0).path("path").asText().endsWith("/train.jsonl.gz"), inputs.toString());
        assertEquals(InputFile.ROLE_INPUT, inputs.get(0).path("role").asText());
        assertTrue(inputs.get(1).path("path").asText().endsWith("/eval.jsonl.gz"), inputs.toString());
        assertEquals(InputFile.ROLE_EVAL_INPUT, inputs.get(1).path("role").asText());

        String out = result.output();
        PrepJob.Result same = PrepJob.run(spark, List.of(trainFile.toString()), List.of(evalFile.toString()), out,
                TestSupport.config(CONF));
        assertEquals(PrepJob.Status.UP_TO_DATE, same.status());

        // The same two files, the eval file now an ordinary input: not up to date, and hash-split.
        Path moved = tmp.resolve("moved");
        PrepJob.Result asInput = PrepJob.run(spark, List.of(trainFile.toString(), evalFile.toString()),
                moved.toString(), TestSupport.config(CONF));
        assertEquals(PrepJob.Status.BUILT, asInput.status());
        assertNotEquals(result.manifest().json().path("fingerprint").asText(), asInput.manifest().json().path("fingerprint").asText());
        assertEquals(InputFile.ROLE_INPUT, asInput.manifest().json().path("inputs").get(1).path("role").asText());
        for (Row row : pairs(asInput)) {
            assertEquals(PairId.split(row.getAs(PairSchema.PAIR_ID), EVAL_FRACTION), row.getAs(PairSchema.SPLIT));
        }
        // Into the first output: the role change alone makes it rebuild.
        PrepJob.Result rebuilt = PrepJob.run(spark, List.of(trainFile.toString(), evalFile.toString()), out,
                TestSupport.config(CONF));
        assertEquals(PrepJob.Status.BUILT, rebuilt.status());
        assertEquals(asInput.manifest().json().path("fingerprint"), rebuilt.manifest().json().path("fingerprint"));
        // Restore the eval-input output for the other tests, whatever order they run in.
        result = PrepJob.run(spark, List.of(trainFile.toString()), List.of(evalFile.toString()), out,
                TestSupport.config(CONF));
        assertEquals(PrepJob.Status.BUILT, result.status());
    }

    @Test
    void aFileGivenInBothRolesIsAnErrorNamingIt() {
        String out = tmp.resolve("never").toString();
        ConfigurationException same = assertThrows(ConfigurationException.class, () -> PrepJob.run(spark,
                List.of(trainFile.toString(), evalFile.toString()), List.of(evalFile.toString()), out,
                TestSupport.config(CONF)));
        assertTrue(same.getMessage().contains(evalFile.toString()), same.getMessage());
        // Through a folder: the folder's eval file is also named as an eval input.
        String folder = evalFile.getParent().toString();
        ConfigurationException viaFolder = assertThrows(ConfigurationException.class, () -> PrepJob.run(spark,
                List.of(folder), List.of(evalFile.toString()), out, TestSupport.config(CONF)));
        assertTrue(viaFolder.getMessage().contains("eval.jsonl.gz") && viaFolder.getMessage().contains(folder),
                viaFolder.getMessage());
        assertFalse(Files.exists(Path.of(out)));
    }

    // ---------------------------------------------------------------------------------------------

    private static String prefix(String s) {
        return s.substring(0, Math.min(10, s.length()));
    }

    private static ParsedRecord parse(String line) {
        return RecordParser.defaults().parse(line.getBytes(StandardCharsets.UTF_8), InputFormat.PAIRS, "f", 0, 1);
    }

    /** Piece counts (as the job counts them: pieces of more than one byte) of the pairs whose id passes. */
    private static Map<String, Long> count(Segmenter seg, List<String> lines,
                                           java.util.function.Predicate<String> take) {
        Map<String, Long> counts = new HashMap<>();
        for (String line : lines) {
            ParsedRecord p = parse(line);
            if (!p.isPair() || !take.test(p.pairId)) {
                continue;
            }
            for (String text : new String[]{p.prompt, p.chosen, p.rejected}) {
                for (String piece : seg.segment(text)) {
                    if (piece.length() > 1) {
                        counts.merge(piece, 1L, Long::sum);
                    }
                }
            }
        }
        return counts;
    }

    /** vocab.json's pieces (as the byte strings the segmenter returns) with their counts. */
    private static Map<String, Long> vocabCounts(PrepJob.Result r) throws IOException {
        JsonNode vocab = new ObjectMapper().readTree(Files.readString(
                Path.of(new org.apache.hadoop.fs.Path(r.output()).toUri().getPath(), PairSchema.VOCAB_FILE)));
        Map<String, Long> counts = new HashMap<>();
        for (JsonNode p : vocab.path("pieces")) {
            counts.put(new String(HexFormat.of().parseHex(p.path("hex").asText()), StandardCharsets.ISO_8859_1),
                    p.path("count").asLong());
        }
        return counts;
    }

    private static List<Row> pairs(PrepJob.Result r) {
        return spark.read().parquet(r.output() + "/" + PairSchema.PAIRS_DIR).collectAsList();
    }

    private static JsonNode input(PrepJob.Result r, Path file) {
        for (JsonNode in : r.manifest().json().path("inputs")) {
            if (in.path("path").asText().endsWith("/" + file.getFileName())) {
                return in;
            }
        }
        throw new AssertionError("no manifest input for " + file + ": " + r.manifest().json().path("inputs"));
    }

    private static Path writeGz(Path file, List<String> lines) throws IOException {
        Files.createDirectories(file.getParent());
        try (GZIPOutputStream gz = new GZIPOutputStream(Files.newOutputStream(file))) {
            gz.write((String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        }
        return file;
    }
}
