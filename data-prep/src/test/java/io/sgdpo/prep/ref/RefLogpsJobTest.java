package io.sgdpo.prep.ref;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.loss.PairLogProbs;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import io.sgdpo.nn.SequenceLogProbs;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.PairSchema;
import io.sgdpo.prep.PrepException;
import io.sgdpo.prep.tokenize.Vocabulary;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reference log-prob pass on a slice of the shared HH-RLHF data with a tiny decoder: values
 * against an in-process forward pass, local[1] against local[2], the manifest, the per-JVM model
 * cache, reruns, a killed run resumed, and the errors a user can make.
 *
 * <p>Spark allows one session per JVM: the local[1] runs happen in {@link #setUp()}, then the
 * local[2] session serves every test. Tests that replace an output run last.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Tag("spark")
class RefLogpsJobTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path tmp;
    private static Path prep;
    private static Path ckptA;
    private static Path ckptB;
    private static int vocabSize;
    private static SparkSession spark;
    private static RefLogpsJob.Result one;
    private static RefLogpsJob.Result two;
    private static int loadsFirstRun;
    private static int loadsSecondRun;
    private static Path out1;
    private static Path out2;

    @BeforeAll
    static void setUp() throws IOException {
        tmp = Files.createTempDirectory("ref-logps");
        Path slice = RefFixture.hhSlice(tmp);
        SparkSession local1 = RefFixture.spark("local[1]");
        try {
            prep = RefFixture.prep(local1, slice, tmp.resolve("prep"));
            vocabSize = JSON.readTree(prep.resolve(PairSchema.MANIFEST_FILE).toFile()).path("vocabulary")
                    .path("size").asInt();
            ckptA = RefFixture.checkpoint(tmp.resolve("ckpt-a"), vocabSize, RefFixture.MAX_LENGTH, 1);
            ckptB = RefFixture.checkpoint(tmp.resolve("ckpt-b"), vocabSize, RefFixture.MAX_LENGTH, 2);
            out1 = tmp.resolve("out-l1");
            int before = ReferenceModels.loads();
            one = RefLogpsJob.run(local1, prep.toString(), ckptA.toString(), out1.toString(), RefFixture.refConfig());
            loadsFirstRun = ReferenceModels.loads() - before;
        } finally {
            local1.stop();
        }
        spark = RefFixture.spark("local[2]");
        out2 = tmp.resolve("out-l2");
        int before = ReferenceModels.loads();
        two = RefLogpsJob.run(spark, prep.toString(), ckptA.toString(), out2.toString(), RefFixture.refConfig());
        loadsSecondRun = ReferenceModels.loads() - before;
    }

    @AfterAll
    static void tearDown() throws IOException {
        if (spark != null) {
            spark.stop();
        }
        RefFixture.deleteRecursively(tmp);
    }

    @Test
    @Order(1)
    void sparkValuesEqualAnInProcessForwardPassAndSumsMatch() throws IOException {
        assertEquals(RefLogpsJob.Status.BUILT, one.status());
        Map<String, Row> scored = RefFixture.rowsById(spark, out1);
        Map<String, Row> input = RefFixture.rowsById(spark, prep);
        assertEquals(input.keySet(), scored.keySet(), "every input pair lands in the output");
        assertTrue(scored.size() > 100, "the slice keeps most of its " + RefFixture.RECORDS + " records");

        ComputationGraph graph = Checkpoints.load(ckptA.toString(), new Configuration()).graph();
        PairedBatch batcher = new PairedBatch(RefFixture.MAX_LENGTH, Vocabulary.PAD_ID);
        // A sample of every third pair, in batches of 5 (not the job's 4): batch composition must not
        // matter beyond float32 rounding, which depends on the CPU's BLAS kernel (LogProbTolerance).
        List<String> sample = new ArrayList<>(new java.util.TreeSet<>(scored.keySet()));
        List<PairExample> pairs = new ArrayList<>();
        for (int i = 0; i < sample.size(); i += 3) {
            pairs.add(PairSchema.example(input.get(sample.get(i))));
        }
        int compared = 0;
        for (int from = 0; from < pairs.size(); from += 5) {
            List<PairExample> batch = pairs.subList(from, Math.min(pairs.size(), from + 5));
            List<PairLogProbs> expected = SequenceLogProbs.of(graph, batcher, batch);
            for (int i = 0; i < batch.size(); i++) {
                Row row = scored.get(batch.get(i).pairId());
                double[] chosen = PairSchema.doubles(row, PairSchema.CHOSEN_REF_LOGPS);
                double[] rejected = PairSchema.doubles(row, PairSchema.REJECTED_REF_LOGPS);
                LogProbTolerance.assertClose(expected.get(i).policyChosen(), chosen, batch.get(i).pairId() + " chosen");
                LogProbTolerance.assertClose(expected.get(i).policyRejected(), rejected,
                        batch.get(i).pairId() + " rejected");
                compared++;
            }
        }
        assertTrue(compared >= 30, "compared " + compared);

        for (Row row : scored.values()) {
            Row in = input.get(row.getString(row.fieldIndex(PairSchema.PAIR_ID)));
            for (String column : PairSchema.PAIRS.fieldNames()) {
                assertEquals(in.get(in.fieldIndex(column)), row.get(row.fieldIndex(column)), column);
            }
            double[] chosen = PairSchema.doubles(row, PairSchema.CHOSEN_REF_LOGPS);
            double[] rejected = PairSchema.doubles(row, PairSchema.REJECTED_REF_LOGPS);
            assertEquals(row.getInt(row.fieldIndex(PairSchema.CHOSEN_LEN)), chosen.length);
            assertEquals(row.getInt(row.fieldIndex(PairSchema.REJECTED_LEN)), rejected.length);
            double sc = 0;
            for (double v : chosen) {
                assertTrue(v <= 0 && Double.isFinite(v), "a log-prob: " + v);
                sc += v;
            }
            double sr = 0;
            for (double v : rejected) {
                assertTrue(v <= 0 && Double.isFinite(v), "a log-prob: " + v);
                sr += v;
            }
            assertEquals(sc, row.getDouble(row.fieldIndex(PairSchema.CHOSEN_REF_SUM)), 1e-9);
            assertEquals(sr, row.getDouble(row.fieldIndex(PairSchema.REJECTED_REF_SUM)), 1e-9);
        }
    }

    @Test
    @Order(2)
    void localOneAndLocalTwoGiveIdenticalOutputs() throws IOException {
        // Exact, on any CPU: the same checkpoint, shards and ref.batchSize give every forward pass the
        // same rows and shapes in both runs, in the same JVM with the same ND4J/OpenBLAS thread counts;
        // only the number of concurrent tasks differs, and no per-row value depends on that. (A
        // different thread count per operation would count as another computation: see ClusterIT.)
        assertEquals(RefLogpsJob.Status.BUILT, two.status());
        Map<String, Row> a = RefFixture.rowsById(spark, out1);
        Map<String, Row> b = RefFixture.rowsById(spark, out2);
        assertEquals(a.keySet(), b.keySet());
        for (String id : a.keySet()) {
            assertEquals(a.get(id), b.get(id), id);
        }
        assertEquals(RefFixture.idsByShard(spark, out1), RefFixture.idsByShard(spark, out2),
                "same shards, same rows, same order");
    }

    @Test
    @Order(3)
    void manifestRecordsIdentitiesAndCountsReconcile() throws IOException {
        JsonNode m = JSON.readTree(out1.resolve(PairSchema.MANIFEST_FILE).toFile());
        JsonNode prepManifest = JSON.readTree(prep.resolve(PairSchema.MANIFEST_FILE).toFile());
        FileSystem fs = FileSystem.getLocal(new Configuration());
        assertEquals("ref-logps", m.path("stage").asText());
        assertEquals(Checkpoints.identity(fs, new org.apache.hadoop.fs.Path(ckptA.toUri())),
                m.path("model").path("sha256").asText());
        assertEquals("checkpoint", m.path("model").path("kind").asText());
        assertEquals(RefFixture.MAX_LENGTH, m.path("model").path("maxLength").asInt());
        assertEquals(Manifest.sha256(Files.readString(prep.resolve(PairSchema.MANIFEST_FILE))),
                m.path("inputs").get(0).path("sha256").asText());
        assertEquals("data", m.path("inputs").get(0).path("role").asText());
        assertEquals(prepManifest.path("fingerprint").asText(), m.path("inputs").get(0).path("fingerprint").asText());
        assertEquals(4, m.path("config").path("ref").path("batchSize").asInt());

        long kept = prepManifest.path("counts").path("kept").asLong();
        assertEquals(kept, m.path("counts").path("inputPairs").asLong());
        assertEquals(kept, m.path("counts").path("pairs").asLong());
        assertEquals(kept, spark.read().parquet(out1.resolve(PairSchema.PAIRS_DIR).toString()).count());
        int shards = prepManifest.path("pairs").path("shards").asInt();
        assertTrue(shards >= 5, "several shards, so that resuming means something: " + shards);
        assertEquals(shards, m.path("counts").path("shards").asInt());
        assertEquals(shards, one.shardsComputed());
        assertEquals(0, one.shardsResumed());
        assertEquals(RefFixture.idsByShard(spark, prep), RefFixture.idsByShard(spark, out1),
                "one output shard per input shard, same name, same pairs in the same order");
        long tokens = 0;
        for (Row r : spark.read().parquet(prep.resolve(PairSchema.PAIRS_DIR).toString()).collectAsList()) {
            tokens += r.getInt(r.fieldIndex(PairSchema.CHOSEN_LEN)) + r.getInt(r.fieldIndex(PairSchema.REJECTED_LEN));
        }
        assertEquals(tokens, m.path("counts").path("responseTokens").asLong());
        assertArrayEquals(Files.readAllBytes(prep.resolve(PairSchema.VOCAB_FILE)),
                Files.readAllBytes(out1.resolve(PairSchema.VOCAB_FILE)), "vocab.json travels with the output");
        assertFalse(Files.exists(tmp.resolve(".out-l1." + RefLogpsJob.PARTIAL_SUFFIX)), "work folder renamed");
    }

    @Test
    @Order(4)
    void theModelIsLoadedOncePerJvmNotPerTask() {
        assertTrue(one.shardsComputed() >= 5, "many tasks");
        assertEquals(1, loadsFirstRun, "first use of the checkpoint in this JVM");
        assertEquals(0, loadsSecondRun, "same checkpoint, same JVM: the cached model serves a new session's tasks");
    }

    @Test
    @Order(5)
    void rerunWithTheSameCheckpointDoesNothing() throws IOException {
        Map<Path, FileTime> before = mtimes(out2);
        int loads = ReferenceModels.loads();
        RefLogpsJob.Result again = RefLogpsJob.run(spark, prep.toString(), ckptA.toString(), out2.toString(),
                RefFixture.refConfig());
        assertEquals(RefLogpsJob.Status.UP_TO_DATE, again.status());
        assertEquals(0, again.shardsComputed());
        assertEquals(before, mtimes(out2), "no file touched");
        assertEquals(loads, ReferenceModels.loads());
        // concurrency is not part of the output's identity
        Map<String, String> other = new HashMap<>(RefFixture.REF);
        other.put("ref.concurrentShards", "1");
        assertEquals(RefLogpsJob.Status.UP_TO_DATE, RefLogpsJob.run(spark, prep.toString(), ckptA.toString(),
                out2.toString(), RefFixture.config(other)).status());
    }

    @Test
    @Order(6)
    void aKilledRunResumesToTheSameOutputAsOneUninterruptedPass() throws Exception {
        Path out = tmp.resolve("out-killed");
        Path partial = tmp.resolve(".out-killed." + RefLogpsJob.PARTIAL_SUFFIX);
        Path records = partial.resolve(RefLogpsJob.SHARDS_DIR);
        Process child = childJvm(out);
        int total = one.shardsComputed();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        try {
            while (countRecords(records) < 1) {
                assertTrue(child.isAlive(), "the child run ended before any shard completed:\n" + output(child));
                assertTrue(System.nanoTime() < deadline, "no shard completed within 120 s");
                Thread.sleep(10);
            }
        } finally {
            child.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup
            child.waitFor(30, TimeUnit.SECONDS);
        }
        int complete = countRecords(records);
        assertTrue(complete >= 1 && complete < total,
                "killed after " + complete + " of " + total + " shards (the test needs a run cut short)");
        assertFalse(Files.exists(out), "nothing half-written appears under the output name");
        assertNull(Manifest.readIfComplete(FileSystem.getLocal(new Configuration()),
                new org.apache.hadoop.fs.Path(out.toUri())));

        RefLogpsJob.Result resumed = RefLogpsJob.run(spark, prep.toString(), ckptA.toString(), out.toString(),
                RefFixture.refConfig());
        assertEquals(RefLogpsJob.Status.BUILT, resumed.status());
        assertEquals(complete, resumed.shardsResumed());
        assertEquals(total - complete, resumed.shardsComputed());
        assertFalse(Files.exists(partial));

        // Exact: the child JVM has this JVM's flags and environment and scores whole shards with the
        // same ref.batchSize, so each shard is the same computation as in the uninterrupted run.
        Map<String, Row> expected = RefFixture.rowsById(spark, out1);
        Map<String, Row> actual = RefFixture.rowsById(spark, out);
        assertEquals(expected.keySet(), actual.keySet());
        for (String id : expected.keySet()) {
            assertEquals(expected.get(id), actual.get(id), id);
        }
        assertEquals(RefFixture.idsByShard(spark, out1), RefFixture.idsByShard(spark, out));
        JsonNode a = JSON.readTree(out1.resolve(PairSchema.MANIFEST_FILE).toFile());
        JsonNode b = JSON.readTree(out.resolve(PairSchema.MANIFEST_FILE).toFile());
        assertEquals(a.path("fingerprint"), b.path("fingerprint"));
        assertEquals(a.path("counts").path("pairs"), b.path("counts").path("pairs"));
        assertEquals(a.path("pairs").path("files").size(), b.path("pairs").path("files").size());
    }

    @Test
    @Order(7)
    void errorsNameTheProblem() throws IOException {
        String out = tmp.resolve("err-out").toString();
        PrepException missing = assertThrows(PrepException.class, () -> RefLogpsJob.run(spark,
                tmp.resolve("nope").toString(), ckptA.toString(), out, RefFixture.refConfig()));
        assertTrue(missing.getMessage().contains("nope") && missing.getMessage().contains("does not exist"),
                missing.getMessage());

        Path empty = Files.createDirectories(tmp.resolve("empty"));
        PrepException notPrep = assertThrows(PrepException.class, () -> RefLogpsJob.run(spark, empty.toString(),
                ckptA.toString(), out, RefFixture.refConfig()));
        assertTrue(notPrep.getMessage().contains("not a complete prep output"), notPrep.getMessage());

        PrepException notCkpt = assertThrows(PrepException.class, () -> RefLogpsJob.run(spark, prep.toString(),
                prep.toString(), out, RefFixture.refConfig()));
        assertTrue(notCkpt.getMessage().contains("is not a checkpoint") && notCkpt.getMessage().contains("model.zip"),
                notCkpt.getMessage());

        PrepException root = assertThrows(PrepException.class, () -> RefLogpsJob.run(spark, prep.toString(),
                tmp.resolve("ckpt-a").toString(), out, RefFixture.refConfig()));
        assertTrue(root.getMessage().contains(ckptA.getFileName().toString()), "points at the latest checkpoint: "
                + root.getMessage());

        Path corrupt = Files.createDirectories(tmp.resolve("corrupt"));
        Files.writeString(corrupt.resolve("model.zip"), "not a zip");
        Files.writeString(corrupt.resolve("state.properties"), "step=0");
        PrepException bad = assertThrows(PrepException.class, () -> RefLogpsJob.run(spark, prep.toString(),
                corrupt.toString(), out, RefFixture.refConfig()));
        assertTrue(bad.getMessage().contains("not a DL4J model file"), bad.getMessage());

        Path shortCkpt = RefFixture.checkpoint(tmp.resolve("ckpt-short"), vocabSize, 20, 3);
        PrepException tooLong = assertThrows(PrepException.class, () -> RefLogpsJob.run(spark, prep.toString(),
                shortCkpt.toString(), out, RefFixture.refConfig()));
        assertTrue(tooLong.getMessage().contains("prep.maxTotalLength = 48")
                && tooLong.getMessage().contains("model.maxLength = 20"), tooLong.getMessage());

        Path smallVocab = RefFixture.checkpoint(tmp.resolve("ckpt-vocab"), 259, RefFixture.MAX_LENGTH, 3);
        PrepException vocab = assertThrows(PrepException.class, () -> RefLogpsJob.run(spark, prep.toString(),
                smallVocab.toString(), out, RefFixture.refConfig()));
        assertTrue(vocab.getMessage().contains("vocabulary of " + vocabSize), vocab.getMessage());

        ConfigurationException batch = assertThrows(ConfigurationException.class, () -> RefLogpsJob.run(spark,
                prep.toString(), ckptA.toString(), out, RefFixture.config(Map.of("ref.batchSize", "0"))));
        assertTrue(batch.getMessage().contains("ref.batchSize"), batch.getMessage());
        ConfigurationException typo = assertThrows(ConfigurationException.class,
                () -> RefFixture.config(Map.of("ref.batchSzie", "8")));
        assertTrue(typo.getMessage().contains("ref.batchSzie"), typo.getMessage());
        assertFalse(Files.exists(Path.of(out)), "no output from a failed run");

        Path foreign = Files.createDirectories(tmp.resolve("someone-elses"));
        Files.writeString(foreign.resolve("keep.txt"), "precious");
        PrepException refused = assertThrows(PrepException.class, () -> RefLogpsJob.run(spark, prep.toString(),
                ckptA.toString(), foreign.toString(), RefFixture.refConfig()));
        assertTrue(refused.getMessage().contains("not a ref-logps output"), refused.getMessage());
        assertEquals("precious", Files.readString(foreign.resolve("keep.txt")));
    }

    @Test
    @Order(8)
    void aDifferentCheckpointRecomputesEverything() throws IOException {
        Map<String, Row> withA = RefFixture.rowsById(spark, out2);
        RefLogpsJob.Result b = RefLogpsJob.run(spark, prep.toString(), ckptB.toString(), out2.toString(),
                RefFixture.refConfig());
        assertEquals(RefLogpsJob.Status.BUILT, b.status());
        assertEquals(one.shardsComputed(), b.shardsComputed());
        assertEquals(0, b.shardsResumed());
        JsonNode m = JSON.readTree(out2.resolve(PairSchema.MANIFEST_FILE).toFile());
        assertEquals(Checkpoints.identity(FileSystem.getLocal(new Configuration()),
                new org.apache.hadoop.fs.Path(ckptB.toUri())), m.path("model").path("sha256").asText());
        Map<String, Row> withB = RefFixture.rowsById(spark, out2);
        assertEquals(withA.keySet(), withB.keySet());
        int differing = 0;
        for (String id : withA.keySet()) {
            if (withA.get(id).getDouble(withA.get(id).fieldIndex(PairSchema.CHOSEN_REF_SUM))
                    != withB.get(id).getDouble(withB.get(id).fieldIndex(PairSchema.CHOSEN_REF_SUM))) {
                differing++;
            }
        }
        assertEquals(withA.size(), differing, "every pair rescored under the other checkpoint");
        ComputationGraph graph = Checkpoints.load(ckptB.toString(), new Configuration()).graph();
        String id = withB.keySet().iterator().next();
        PairLogProbs expected = SequenceLogProbs.of(graph, new PairedBatch(RefFixture.MAX_LENGTH, Vocabulary.PAD_ID),
                List.of(PairSchema.example(withB.get(id)))).get(0);
        // one pair alone against the job's batches of 4: equal up to float32 rounding (LogProbTolerance)
        LogProbTolerance.assertClose(expected.policyChosen(), PairSchema.doubles(withB.get(id),
                PairSchema.CHOSEN_REF_LOGPS), id);
        assertNotEquals(withA.get(id), withB.get(id));
    }

    private static Process childJvm(Path out) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            // the Java 17 --add-opens flags Spark needs, and the test's system properties
            if (arg.startsWith("--add-") || arg.startsWith("-XX:+IgnoreUnrecognizedVMOptions") || arg.startsWith("-D")) {
                cmd.add(arg);
            }
        }
        cmd.add("-Xmx1g");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(RefLogpsChild.class.getName());
        cmd.add(prep.toString());
        cmd.add(ckptA.toString());
        cmd.add(out.toString());
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("child.log").toFile());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        return pb.start();
    }

    private static String output(Process child) {
        try {
            return Files.readString(tmp.resolve("child.log"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    private static int countRecords(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return (int) s.map(p -> p.getFileName().toString())
                    .filter(n -> n.endsWith(".json") && !n.startsWith("_")).count();
        }
    }

    private static Map<Path, FileTime> mtimes(Path dir) throws IOException {
        Map<Path, FileTime> out = new HashMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                out.put(p, Files.getLastModifiedTime(p));
            }
        }
        return out;
    }

    @SuppressWarnings("unused")
    private static File file(Path p) {
        return p.toFile();
    }
}
