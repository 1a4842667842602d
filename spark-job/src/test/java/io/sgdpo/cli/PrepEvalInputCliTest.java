package io.sgdpo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** {@code sgdpo prep --eval-input}: the help, the usage error for a path in both roles, and a real run. */
@Tag("spark")
class PrepEvalInputCliTest {

    private static Path tmp;
    private static Path train;
    private static Path eval;

    @BeforeAll
    static void setUp() throws IOException {
        tmp = Files.createTempDirectory("sgdpo-eval-input-cli");
        train = shared("ultrafeedback/train.jsonl.gz");
        eval = shared("ultrafeedback/eval.jsonl.gz");
    }

    @AfterAll
    static void removeTmp() throws IOException {
        try (Stream<Path> s = Files.walk(tmp)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    private static Path shared(String relative) {
        String root = System.getProperty("sgdpo.shared.data");
        Path p = Path.of(root == null ? "../shared/data" : root, relative);
        if (!Files.isRegularFile(p)) {
            fail("Shared data file missing: " + p);
        }
        return p;
    }

    @Test
    void helpDescribesEvalInput() {
        CliRun help = CliRun.of("prep", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("--eval-input PATH..."), help.out());
        assertTrue(help.out().contains("prep.evalFraction still applies to --input"), help.out());
    }

    @Test
    void aPathGivenAsInputAndEvalInputIsAUsageErrorNamingIt() {
        String out = tmp.resolve("never").toString();
        CliRun same = CliRun.of("prep", "--input", train.toString(), eval.toString(), "--eval-input", eval.toString(),
                "--output", out);
        assertEquals(Sgdpo.EXIT_USAGE, same.code(), same.err());
        assertTrue(same.err().contains("--eval-input " + eval + " is also an --input"), same.err());
        assertTrue(same.err().contains("Usage: sgdpo prep"), "help follows a usage error: " + same.err());
        // Another spelling of the same path (a trailing slash, a doubled one) is the same path.
        String respelled = eval.toString().replace("/eval.jsonl.gz", "//eval.jsonl.gz/");
        CliRun other = CliRun.of("prep", "--input", eval.toString(), "--eval-input", respelled, "--output", out);
        assertEquals(Sgdpo.EXIT_USAGE, other.code(), other.err());
        assertTrue(other.err().contains(respelled), other.err());
        CliRun empty = CliRun.of("prep", "--input", train.toString(), "--eval-input", "--output", out);
        assertEquals(Sgdpo.EXIT_USAGE, empty.code());
        assertTrue(empty.err().contains("--eval-input needs at least one value"), empty.err());
        assertFalse(Files.exists(Path.of(out)));
    }

    @Test
    void aFileReachedThroughAnInputFolderIsAConfigErrorNamingIt() throws IOException {
        Path folder = tmp.resolve("both");
        Files.createDirectories(folder);
        Path copy = Files.copy(eval, folder.resolve("eval.jsonl.gz"));
        String out = tmp.resolve("never2").toString();
        CliRun r = CliRun.of("prep", "--input", folder.toString(), "--eval-input", copy.toString(), "--output", out,
                "-Dspark.master=local[1]", "-Dspark.ui.enabled=false");
        assertEquals(Sgdpo.EXIT_USAGE, r.code(), r.err());
        assertTrue(r.err().contains(copy.toString()) && r.err().contains("--eval-input"), r.err());
        assertFalse(Files.exists(Path.of(out)));
    }

    @Test
    void evalInputRunPutsTheEvalFileInTheEvalSplit() throws IOException {
        Path out = tmp.resolve("prep");
        CliRun r = CliRun.of("prep", "--input", train.toString(), "--eval-input", eval.toString(), "--output",
                out.toString(), "-Dspark.master=local[2]", "-Dspark.ui.enabled=false", "-Dprep.evalFraction=0",
                "-Dtokenizer.vocabSize=500", "-Dprep.maxRejectFraction=0.5");
        assertEquals(0, r.code(), r.err());
        JsonNode m = new ObjectMapper().readTree(out.resolve("_manifest.json").toFile());
        assertEquals("input", m.path("inputs").get(0).path("role").asText());
        assertEquals("eval-input", m.path("inputs").get(1).path("role").asText());
        // evalFraction 0: the eval split is exactly the eval file's kept pairs.
        long evalKept = m.path("inputs").get(1).path("kept").asLong();
        assertTrue(evalKept > 150, m.path("inputs").toString());
        assertEquals(evalKept, m.path("counts").path("splits").path("eval").asLong());
        assertEquals(m.path("inputs").get(0).path("kept").asLong(), m.path("counts").path("splits").path("train").asLong());
        assertTrue(r.out().contains("eval " + evalKept + ")"), r.out());
    }
}
