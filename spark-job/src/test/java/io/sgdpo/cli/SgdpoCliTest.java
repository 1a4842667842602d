package io.sgdpo.cli;

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
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The command line: dispatch, help, exit codes, and one real prep run and rerun. */
@Tag("spark")
class SgdpoCliTest {

    private static Path tmp;

    @BeforeAll
    static void makeTmp() throws IOException {
        tmp = Files.createTempDirectory("sgdpo-cli");
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
    void helpListsCommandsAndEachCommandHasHelp() {
        CliRun top = run("--help");
        assertEquals(0, top.code());
        for (String cmd : java.util.List.of("prep", "sft", "ref-logps", "train", "eval", "report", "demo")) {
            assertTrue(top.out().contains("  " + cmd + " "), cmd + " listed: " + top.out());
        }
        for (String cmd : Sgdpo.COMMANDS.keySet()) {
            CliRun r = run(cmd, "--help");
            assertEquals(0, r.code(), cmd);
            assertTrue(r.out().startsWith("Usage: sgdpo " + cmd), r.out());
        }
        assertEquals(Sgdpo.EXIT_USAGE, run().code());
        CliRun unknown = run("frobnicate");
        assertEquals(Sgdpo.EXIT_USAGE, unknown.code());
        assertTrue(unknown.err().contains("frobnicate"));
    }

    @Test
    void usageAndConfigErrorsExitWithTwoAndNameTheProblem() {
        CliRun missingOutput = run("prep", "--input", "a.jsonl");
        assertEquals(Sgdpo.EXIT_USAGE, missingOutput.code());
        assertTrue(missingOutput.err().contains("--output"), missingOutput.err());
        CliRun badKey = run("prep", "--input", "a.jsonl", "--output", "o", "-Dprep.evalFracton=0.1");
        assertEquals(Sgdpo.EXIT_USAGE, badKey.code());
        assertTrue(badKey.err().contains("prep.evalFracton"), badKey.err());
        CliRun badFile = run("prep", "--input", "a.jsonl", "--output", "o", "--conf", tmp.resolve("none.conf").toString());
        assertEquals(Sgdpo.EXIT_USAGE, badFile.code());
        assertTrue(badFile.err().contains("none.conf"), badFile.err());
    }

    @Test
    void prepRunsThenRerunIsANoOpAndMissingInputFails() {
        String shared = System.getProperty("sgdpo.shared.data");
        Path eval = Path.of(shared == null ? "../shared/data" : shared, "ultrafeedback/eval.jsonl.gz");
        if (!Files.isRegularFile(eval)) {
            fail("Shared data file missing: " + eval);
        }
        String out = tmp.resolve("prep-out").toString();
        String[] args = {"prep", "--input", eval.toString(), "--output", out, "-Dspark.master=local[2]",
                "-Dspark.ui.enabled=false", "-Dtokenizer.vocabSize=500"};
        CliRun first = run(args);
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("read 200 = kept"), first.out());
        assertTrue(Files.isRegularFile(Path.of(out, "_manifest.json")));
        CliRun second = run(args);
        assertEquals(0, second.code(), second.err());
        assertTrue(second.out().contains("up to date"), second.out());

        String missing = tmp.resolve("missing.jsonl").toString();
        CliRun bad = run("prep", "--input", missing, "--output", out, "-Dspark.master=local[1]", "-Dspark.ui.enabled=false");
        assertEquals(Sgdpo.EXIT_FAILED, bad.code());
        assertTrue(bad.err().contains(missing), bad.err());

        CliRun strict = run("prep", "--input", eval.toString(), "--output", tmp.resolve("strict").toString(),
                "-Dspark.master=local[1]", "-Dspark.ui.enabled=false", "-Dprep.maxRejectFraction=0");
        assertEquals(Sgdpo.EXIT_FAILED, strict.code());
        assertTrue(strict.err().contains("prep.maxRejectFraction"), strict.err());
    }

    @Test
    void trainingCommandsCheckTheirArgumentsAndConfig() {
        CliRun noInit = run("train", "--data", tmp.toString(), "--output", tmp.resolve("run").toString());
        assertEquals(Sgdpo.EXIT_USAGE, noInit.code());
        assertTrue(noInit.err().contains("missing --init"), noInit.err());
        CliRun bogus = run("sft", "--data", tmp.toString(), "--output", tmp.resolve("sft").toString(), "--bogus");
        assertEquals(Sgdpo.EXIT_USAGE, bogus.code());
        assertTrue(bogus.err().contains("--bogus"), bogus.err());
        CliRun badLoss = run("train", "--data", tmp.toString(), "--init", tmp.toString(), "--output",
                tmp.resolve("run").toString(), "-Dloss.name=kto", "-Dspark.master=local[1]", "-Dspark.ui.enabled=false");
        assertEquals(Sgdpo.EXIT_USAGE, badLoss.code());
        assertTrue(badLoss.err().contains("loss.name"), badLoss.err());
        CliRun typo = run("train", "--data", tmp.toString(), "--init", tmp.toString(), "--output",
                tmp.resolve("run").toString(), "-Dtrain.learningRat=1");
        assertEquals(Sgdpo.EXIT_USAGE, typo.code());
        assertTrue(typo.err().contains("train.learningRat"), typo.err());
        CliRun notPrepData = run("train", "--data", tmp.toString(), "--output", tmp.resolve("fresh").toString(),
                "--resume", "-Dspark.master=local[1]", "-Dspark.ui.enabled=false");
        assertEquals(Sgdpo.EXIT_FAILED, notPrepData.code());
        assertTrue(notPrepData.err().contains("vocab"), notPrepData.err());
    }
}
