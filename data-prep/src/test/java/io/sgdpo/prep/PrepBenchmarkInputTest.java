package io.sgdpo.prep;

import io.sgdpo.prep.bench.PrepBenchmark;
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

/** The benchmark's replicated input: copies must be distinct pairs, not duplicates. */
class PrepBenchmarkInputTest {

    @Test
    void copiesAreDistinctValidPairs(@TempDir Path dir) throws IOException {
        Path hh = TestSupport.sharedData("hh-rlhf/harmless-base-test.jsonl.gz");
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
