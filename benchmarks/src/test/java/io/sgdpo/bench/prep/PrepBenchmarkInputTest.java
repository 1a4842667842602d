package io.sgdpo.bench.prep;

import io.sgdpo.prep.InputFormat;
import io.sgdpo.prep.ParsedRecord;
import io.sgdpo.prep.RecordParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** The benchmark's replicated input: copies must be distinct pairs, not duplicates. */
class PrepBenchmarkInputTest {

    @Test
    void copiesAreDistinctValidPairs(@TempDir Path dir) throws IOException {
        String root = System.getProperty("sgdpo.shared.data");
        if (root == null) {
            fail("System property sgdpo.shared.data is not set (the parent pom sets it to ../shared/data)");
        }
        Path hh = Path.of(root, "hh-rlhf/harmless-base-test.jsonl.gz");
        assertTrue(Files.isRegularFile(hh), "shared data file missing: " + hh);
        Path out = dir.resolve("x2.jsonl");
        long n = PrepBenchmark.replicate(hh, 2, out);
        assertEquals(2 * 2312, n);
        List<String> lines = Files.readAllLines(out, StandardCharsets.UTF_8);
        assertEquals(n, lines.size());
        RecordParser parser = RecordParser.defaults();
        Set<String> ids = new HashSet<>();
        long pairs = 0;
        for (int i = 0; i < lines.size(); i++) {
            ParsedRecord p = parser.parse(lines.get(i).getBytes(StandardCharsets.UTF_8), InputFormat.HH, "x", 0, i + 1);
            if (p.isPair()) {
                pairs++;
                assertTrue(ids.add(p.pairId), "copy produced a duplicate at line " + (i + 1));
            }
        }
        assertTrue(pairs > 2 * 2290, "pairs: " + pairs);
    }
}
