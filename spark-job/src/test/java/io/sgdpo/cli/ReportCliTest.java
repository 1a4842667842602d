package io.sgdpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.report.RunReport;
import io.sgdpo.train.TinyRuns;
import java.io.File;
import java.nio.file.Files;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code sgdpo report} on the command line: a report of two real runs, usage errors, a missing run. */
@Tag("spark")
class ReportCliTest {

    @TempDir
    File tmp;

    @Test
    void reportsTwoRunsAndListsEachByItsLoss() throws Exception {
        TinyRuns runs = TinyRuns.get();
        File out = new File(tmp, "report");
        CliRun r = CliRun.of("report", runs.sgdpo.getPath(), runs.dpo.getPath(), "--output", out.getPath());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains(new File(out, RunReport.MARKDOWN).getPath()), r.out());
        String md = Files.readString(new File(out, RunReport.MARKDOWN).toPath());
        assertTrue(md.contains("| sgdpo | sgdpo |") && md.contains("| dpo | dpo |"), md);
        for (String png : new String[] {RunReport.LOSS_PNG, RunReport.ACCURACY_PNG, RunReport.REWARDS_PNG}) {
            assertTrue(new File(out, png).length() > 10_000, png);
        }
    }

    @Test
    void usageErrorsExitWithTwoAndAMissingRunWithOneNamingIt() {
        CliRun noOutput = CliRun.of("report", tmp.getPath());
        assertEquals(Sgdpo.EXIT_USAGE, noOutput.code());
        assertTrue(noOutput.err().contains("--output"), noOutput.err());
        CliRun noRun = CliRun.of("report", "--output", tmp.getPath());
        assertEquals(Sgdpo.EXIT_USAGE, noRun.code());
        assertTrue(noRun.err().contains("RUN"), noRun.err());
        CliRun bogus = CliRun.of("report", tmp.getPath(), "--output", tmp.getPath(), "--bogus");
        assertEquals(Sgdpo.EXIT_USAGE, bogus.code());
        assertTrue(bogus.err().contains("--bogus"), bogus.err());

        File missing = new File(tmp, "missing-run");
        File out = new File(tmp, "out");
        CliRun failed = CliRun.of("report", missing.getPath(), "--output", out.getPath());
        assertEquals(Sgdpo.EXIT_FAILED, failed.code());
        assertTrue(failed.err().contains(missing.getPath()), failed.err());
        assertFalse(out.exists());
    }
}
