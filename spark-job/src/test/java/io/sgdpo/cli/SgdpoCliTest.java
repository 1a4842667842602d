package io.sgdpo.cli;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The command line: dispatch, help, exit codes, and one real prep run and rerun. */
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

    private record Run(int code, String out, String err) {
    }

    private static Run run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Sgdpo.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void helpListsCommandsAndEachCommandHasHelp() {
        Run top = run("--help");
        assertEquals(0, top.code());
        assertTrue(top.out().contains("prep") && top.out().contains("bench-prep"), top.out());
        for (String cmd : Sgdpo.COMMANDS.keySet()) {
            Run r = run(cmd, "--help");
            assertEquals(0, r.code(), cmd);
            assertTrue(r.out().startsWith("Usage: sgdpo " + cmd), r.out());
        }
        assertEquals(Sgdpo.EXIT_USAGE, run().code());
        Run unknown = run("frobnicate");
        assertEquals(Sgdpo.EXIT_USAGE, unknown.code());
        assertTrue(unknown.err().contains("frobnicate"));
    }

    @Test
    void usageAndConfigErrorsExitWithTwoAndNameTheProblem() {
        Run missingOutput = run("prep", "--input", "a.jsonl");
        assertEquals(Sgdpo.EXIT_USAGE, missingOutput.code());
        assertTrue(missingOutput.err().contains("--output"), missingOutput.err());
        Run badKey = run("prep", "--input", "a.jsonl", "--output", "o", "-Dprep.evalFracton=0.1");
        assertEquals(Sgdpo.EXIT_USAGE, badKey.code());
        assertTrue(badKey.err().contains("prep.evalFracton"), badKey.err());
        Run badFile = run("prep", "--input", "a.jsonl", "--output", "o", "--conf", tmp.resolve("none.conf").toString());
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
        Run first = run(args);
        assertEquals(0, first.code(), first.err());
        assertTrue(first.out().contains("read 200 = kept"), first.out());
        assertTrue(Files.isRegularFile(Path.of(out, "_manifest.json")));
        Run second = run(args);
        assertEquals(0, second.code(), second.err());
        assertTrue(second.out().contains("up to date"), second.out());

        String missing = tmp.resolve("missing.jsonl").toString();
        Run bad = run("prep", "--input", missing, "--output", out, "-Dspark.master=local[1]", "-Dspark.ui.enabled=false");
        assertEquals(Sgdpo.EXIT_FAILED, bad.code());
        assertTrue(bad.err().contains(missing), bad.err());

        Run strict = run("prep", "--input", eval.toString(), "--output", tmp.resolve("strict").toString(),
                "-Dspark.master=local[1]", "-Dspark.ui.enabled=false", "-Dprep.maxRejectFraction=0");
        assertEquals(Sgdpo.EXIT_FAILED, strict.code());
        assertTrue(strict.err().contains("prep.maxRejectFraction"), strict.err());
    }

    @Test
    void trainingCommandsCheckTheirArgumentsAndConfig() {
        Run noInit = run("train", "--data", tmp.toString(), "--output", tmp.resolve("run").toString());
        assertEquals(Sgdpo.EXIT_USAGE, noInit.code());
        assertTrue(noInit.err().contains("missing --init"), noInit.err());
        Run bogus = run("sft", "--data", tmp.toString(), "--output", tmp.resolve("sft").toString(), "--bogus");
        assertEquals(Sgdpo.EXIT_USAGE, bogus.code());
        assertTrue(bogus.err().contains("--bogus"), bogus.err());
        Run badLoss = run("train", "--data", tmp.toString(), "--init", tmp.toString(), "--output",
                tmp.resolve("run").toString(), "-Dloss.name=kto", "-Dspark.master=local[1]", "-Dspark.ui.enabled=false");
        assertEquals(Sgdpo.EXIT_USAGE, badLoss.code());
        assertTrue(badLoss.err().contains("loss.name"), badLoss.err());
        Run typo = run("train", "--data", tmp.toString(), "--init", tmp.toString(), "--output",
                tmp.resolve("run").toString(), "-Dtrain.learningRat=1");
        assertEquals(Sgdpo.EXIT_USAGE, typo.code());
        assertTrue(typo.err().contains("train.learningRat"), typo.err());
        Run notPrepData = run("train", "--data", tmp.toString(), "--output", tmp.resolve("fresh").toString(),
                "--resume", "-Dspark.master=local[1]", "-Dspark.ui.enabled=false");
        assertEquals(Sgdpo.EXIT_FAILED, notPrepData.code());
        assertTrue(notPrepData.err().contains("vocab"), notPrepData.err());
    }
}
