package io.sgdpo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.TrainingState;
import io.sgdpo.nn.Decoder;
import io.sgdpo.nn.DecoderConfig;
import io.sgdpo.nn.SftLoss;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** {@code sgdpo ref-logps} on the command line: a real run after a real prep, the rerun, and the errors. */
@Tag("spark")
class RefLogpsCliTest {

    private static Path tmp;

    @BeforeAll
    static void makeTmp() throws IOException {
        tmp = Files.createTempDirectory("sgdpo-ref-cli");
    }

    @AfterAll
    static void removeTmp() throws IOException {
        try (Stream<Path> s = Files.walk(tmp)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void usageAndConfigErrorsExitWithTwo() {
        CliRun missing = run("ref-logps", "--data", "d", "--output", "o");
        assertEquals(Sgdpo.EXIT_USAGE, missing.code());
        assertTrue(missing.err().contains("--model"), missing.err());
        CliRun typo = run("ref-logps", "--data", "d", "--model", "m", "--output", "o", "-Dref.batchSzie=4");
        assertEquals(Sgdpo.EXIT_USAGE, typo.code());
        assertTrue(typo.err().contains("ref.batchSzie"), typo.err());
        CliRun unknown = run("ref-logps", "--data", "d", "--model", "m", "--output", "o", "--bogus");
        assertEquals(Sgdpo.EXIT_USAGE, unknown.code());
        assertTrue(unknown.err().contains("--bogus"), unknown.err());
    }

    @Test
    void prepThenRefLogpsThenRerunAndBadPaths() throws IOException {
        String shared = System.getProperty("sgdpo.shared.data");
        Path eval = Path.of(shared == null ? "../shared/data" : shared, "ultrafeedback/eval.jsonl.gz");
        if (!Files.isRegularFile(eval)) {
            fail("Shared data file missing: " + eval);
        }
        String spark = "-Dspark.master=local[2]";
        String noUi = "-Dspark.ui.enabled=false";
        Path prep = tmp.resolve("prep");
        CliRun p = run("prep", "--input", eval.toString(), "--output", prep.toString(), spark, noUi,
                "-Dtokenizer.vocabSize=300", "-Dprep.maxPromptLength=24", "-Dprep.maxTotalLength=40",
                "-Dprep.shardTargetBytes=1MiB");
        assertEquals(0, p.code(), p.err());
        ObjectMapper json = new ObjectMapper();
        JsonNode prepManifest = json.readTree(prep.resolve("_manifest.json").toFile());
        int vocab = prepManifest.path("vocabulary").path("size").asInt();
        long kept = prepManifest.path("counts").path("kept").asLong();

        var graph = Decoder.create(new DecoderConfig(vocab, 16, 1, 2, 39, 0.0, 5), new SftLoss(), new Adam(1e-3),
                DataType.FLOAT);
        String ckpt = new Checkpoints(FileSystem.getLocal(new Configuration()),
                new org.apache.hadoop.fs.Path(tmp.resolve("ckpt").toUri())).save(graph, TrainingState.initial(5))
                .toString();

        Path out = tmp.resolve("ref");
        String[] args = {"ref-logps", "--data", prep.toString(), "--model", ckpt, "--output", out.toString(), spark,
                noUi, "-Dref.batchSize=8"};
        CliRun first = run(args);
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("wrote") && first.out().contains(kept + " pairs (input " + kept + ")"),
                first.out());
        JsonNode m = json.readTree(out.resolve("_manifest.json").toFile());
        assertEquals(kept, m.path("counts").path("pairs").asLong());
        assertEquals(8, m.path("config").path("ref").path("batchSize").asInt());
        CliRun second = run(args);
        assertEquals(0, second.code(), second.err());
        assertTrue(second.out().contains("up to date"), second.out());

        String missing = tmp.resolve("no-such-prep").toString();
        CliRun noData = run("ref-logps", "--data", missing, "--model", ckpt, "--output", tmp.resolve("x").toString(),
                spark, noUi);
        assertEquals(Sgdpo.EXIT_FAILED, noData.code());
        assertTrue(noData.err().contains(missing), noData.err());
        CliRun notCkpt = run("ref-logps", "--data", prep.toString(), "--model", prep.toString(), "--output",
                tmp.resolve("x").toString(), spark, noUi);
        assertEquals(Sgdpo.EXIT_FAILED, notCkpt.code());
        assertTrue(notCkpt.err().contains("is not a checkpoint"), notCkpt.err());
    }
}
