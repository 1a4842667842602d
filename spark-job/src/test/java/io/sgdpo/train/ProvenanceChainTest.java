package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.eval.EvalJob;
import io.sgdpo.prep.CodeVersion;
import io.sgdpo.prep.Manifest;
import io.sgdpo.prep.Provenance;
import io.sgdpo.prep.UserModel;
import io.sgdpo.prep.ref.RefLogpsJob;
import java.io.File;
import java.io.PrintStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every stage writes the same typed manifest, and {@code export} carries the chain behind a model
 * into the exported folder: a tiny llama pipeline (prep -> sft -> ref-logps -> train -> eval ->
 * export) whose {@code provenance.json} leads from the trained checkpoint back to the raw data
 * file's SHA-256 and the commit.
 */
@Tag("spark")
class ProvenanceChainTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static File work;
    private static SparkSession spark;
    private static java.util.Set<String> shmBefore;

    @BeforeAll
    static void setUp() {
        shmBefore = AeronFiles.snapshot();
        spark = SparkSession.builder().master("local[1]").appName("provenance-test")
                .config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void tearDown() throws Exception {
        spark.stop();
        AeronFiles.removeAllBut(shmBefore);
    }

    @Test
    void exportCarriesTheChainFromTheCheckpointBackToTheRawDataAndTheCommit() throws Exception {
        Config config = HhSlice.prep(spark, work, 120, Map.of("model.architecture", "llama", "model.dModel", "16",
                "model.dropout", "0", "sft.epochs", "1", "sft.batchSize", "8", "sft.trainEvalPairs", "8"));
        PrintStream quiet = new PrintStream(java.io.OutputStream.nullOutputStream());
        String prep = new File(work, "prep").getAbsolutePath();
        String sftRun = new File(work, "sft").getAbsolutePath();
        SftJob.Result sft = SftJob.run(spark, prep, null, sftRun, config, false, quiet);
        String ref = new File(work, "ref").getAbsolutePath();
        RefLogpsJob.run(spark, prep, sft.checkpoint().toString(), ref, config);
        String trainRun = new File(work, "train").getAbsolutePath();
        Config train = ConfigFactory.parseMap(Map.of("train.maxSteps", "2", "train.batchSize", "4",
                "train.logEvery", "1", "train.evalEvery", "0", "train.checkpointEvery", "0")).withFallback(config);
        TrainJob.Result trained = TrainJob.run(spark, ref, sft.checkpoint().toString(), trainRun, train, false, quiet);
        String eval = new File(work, "eval").getAbsolutePath();
        EvalJob.run(spark, ref, trained.checkpoint().toString(), eval, null, ConfigFactory.parseMap(Map.of(
                "eval.maxPairs", "4", "eval.prompts", "0")).withFallback(train), quiet);

        // Every stage: the same typed shape, inputs with checksums, the model with its identity.
        FileSystem fs = FileSystem.getLocal(new Configuration());
        Manifest prepM = Manifest.readIfPresent(fs, new Path(prep));
        Manifest sftM = Manifest.readIfPresent(fs, new Path(sftRun));
        Manifest refM = Manifest.readIfPresent(fs, new Path(ref));
        Manifest trainM = Manifest.readIfPresent(fs, new Path(trainRun));
        Manifest evalM = Manifest.readIfPresent(fs, new Path(eval));
        for (Manifest m : List.of(prepM, sftM, refM, trainM, evalM)) {
            assertEquals(Manifest.VERSION, m.version(), m.stage());
            assertEquals(CodeVersion.current(), m.code(), m.stage());
            assertFalse(m.inputs().isEmpty(), m.stage());
            m.inputs().forEach(i -> assertEquals(64, i.sha256().length(), m.stage() + " input " + i.path()));
            assertEquals(64, m.fingerprint().length(), m.stage());
        }
        assertEquals(List.of("prep", "sft", "ref-logps", "train", "eval"),
                List.of(prepM.stage(), sftM.stage(), refM.stage(), trainM.stage(), evalM.stage()));
        File raw = new File(work, "hh-slice.jsonl");
        assertEquals(Manifest.sha256(Files.readAllBytes(raw.toPath())), prepM.inputs().get(0).sha256(),
                "prep records the raw file's SHA-256");
        assertEquals(Manifest.fileSha256(fs, new Path(prep)), sftM.inputs().get(0).sha256());
        assertEquals(null, sftM.model(), "sft from scratch starts from no model");
        assertEquals(Manifest.fileSha256(fs, new Path(ref)), trainM.inputs().get(0).sha256());
        String sftIdentity = Checkpoints.identity(fs, sft.checkpoint());
        assertEquals(sftIdentity, trainM.model().sha256(), "train records its initial model's model.zip SHA-256");
        assertEquals(sftIdentity, refM.model().sha256());
        assertEquals(Manifest.Model.CHECKPOINT, trainM.model().kind());
        assertEquals(Checkpoints.identity(fs, trained.checkpoint()), evalM.model().sha256());
        assertEquals(2, trainM.section("totalSteps").asLong());
        assertEquals(sftIdentity, sftM.section("checkpoint").path("sha256").asText());

        // export: provenance.json holds the chain, nearest first, back to the raw file and the commit
        UserModel model = UserModel.open(trained.checkpoint().toString(), new Configuration(), train);
        File exported = new File(work, "exported");
        model.export(exported.getPath(), "f32", model.provenance(new Configuration()), new Configuration());
        JsonNode p = JSON.readTree(new File(exported, Provenance.FILE));
        assertEquals(Checkpoints.identity(fs, trained.checkpoint()), p.path("model").path("sha256").asText());
        List<String> stages = new ArrayList<>();
        for (JsonNode link : p.path("chain")) {
            assertEquals(Provenance.OK, link.path("status").asText(), link.toString());
            stages.add(link.path("manifest").path("stage").asText());
            assertEquals(Manifest.sha256(Files.readAllBytes(new File(link.path("file").asText()
                    .replaceFirst("^file:", "")).toPath())), link.path("sha256").asText());
        }
        // train read ref-logps and started from sft's checkpoint; both read the same prep (listed once)
        assertEquals(List.of("train", "ref-logps", "sft", "prep"), stages);
        assertEquals(1, p.path("rawInputs").size());
        assertEquals(prepM.inputs().get(0).sha256(), p.path("rawInputs").get(0).path("sha256").asText());
        assertEquals(CodeVersion.current().commit(), p.path("commits").get(0).asText());
        assertTrue(new File(exported, "model.safetensors").isFile());

        // A rebuilt upstream output is flagged, not silently taken for the one the run read.
        // (written past Hadoop's local file system: its checksum file goes, as after a hand edit)
        Files.writeString(new File(ref, Manifest.FILE).toPath(), refM.render() + "\n");
        Files.deleteIfExists(new File(ref, "." + Manifest.FILE + ".crc").toPath());
        JsonNode changed = model.provenance(new Configuration());
        assertEquals(Provenance.CHANGED, changed.path("chain").get(1).path("status").asText());
        // A broken manifest in the chain is an error naming its file.
        Files.writeString(new File(prep, Manifest.FILE).toPath(), "{\"stage\": ");
        Files.deleteIfExists(new File(prep, "." + Manifest.FILE + ".crc").toPath());
        java.io.IOException broken = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> model.provenance(new Configuration()));
        assertTrue(broken.getMessage().contains(new File(prep, Manifest.FILE).getPath()), broken.getMessage());
        assertNotNull(trained.metrics());
    }
}
