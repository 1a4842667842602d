package io.sgdpo.bench.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.sgdpo.loss.LossSpec;
import io.sgdpo.loss.Losses;
import io.sgdpo.loss.PilotPositions;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The batch file both sides of bench-peer read: every pair fits the shape's T in the project's
 * layout, the file reads back as the same pairs, and its pilots are those the project's loss draws.
 * Also the parsing of /proc/self/status for peak memory.
 */
class PeerBatchTest {

    @TempDir
    Path tmp;

    @Test
    void pairsFitTheLayoutAndTheFileReadsBackWithTheLossesPilots() throws IOException {
        PreferenceLoss loss = Losses.create(new LossSpec());
        for (PeerShape shape : PeerShape.STANDARD) {
            Path file = tmp.resolve(shape.name() + ".json");
            PeerBatch.write(shape, loss, file);
            List<PairExample> pairs = PeerBatch.readPairs(file);
            List<PairExample> expected = PeerBatch.pairs(shape);
            assertEquals(shape.pairs(), pairs.size());
            // the project's own layout accepts them at T (it refuses a pair that does not fit)
            new PairedBatch(shape.length(), PeerBatch.PAD).build(pairs, loss, PeerBatch.SEED, 0, DataType.FLOAT);
            JsonNode json = new ObjectMapper().readTree(file.toFile());
            for (int i = 0; i < pairs.size(); i++) {
                PairExample p = pairs.get(i);
                assertArrayEquals(expected.get(i).prompt(), p.prompt());
                assertArrayEquals(expected.get(i).chosen(), p.chosen());
                assertArrayEquals(expected.get(i).refRejected(), p.refRejected(), 0.0);
                assertTrue(p.prompt().length + Math.max(p.chosen().length, p.rejected().length) - 1 <= shape.length());
                PilotPositions pilots = loss.drawPilots(PeerBatch.SEED, 0, p.pairId(), p.chosen().length,
                        p.rejected().length);
                JsonNode n = json.path("pairs").get(i);
                assertEquals(pilots.chosen().length, n.path("pilotChosen").size());
                assertEquals(pilots.rejected()[0], n.path("pilotRejected").get(0).asInt());
            }
            List<int[]> prompts = PeerBatch.readPrompts(file);
            assertEquals(shape.pairs(), prompts.size());
            assertEquals(shape.promptLength(), prompts.get(0).length);
            assertTrue(shape.promptLength() + shape.genTokens() <= shape.length());
        }
    }

    @Test
    void unknownShapeAndShapesThatDoNotFit() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeerShape.named("huge"));
        assertTrue(e.getMessage().contains("gpt2"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new PeerShape("x", "gpt", 64, 1, 4, 4, 256, 100, 16, 1, 1, 1, 10, 8));
        assertThrows(IllegalArgumentException.class,
                () -> new PeerShape("x", "mamba", 64, 1, 4, 4, 256, 100, 16, 1, 1, 1, 4, 8));
    }

    @Test
    void procStatusLinesParseToBytes() {
        List<String> status = List.of("Name:\tjava", "VmPeak:\t 9000000 kB", "VmHWM:\t  123456 kB", "VmRSS:\t 1000 kB",
                "Threads:\t42");
        assertEquals(123456L * 1024, ProcessMemory.parse(status, "VmHWM"));
        assertEquals(1000L * 1024, ProcessMemory.parse(status, "VmRSS"));
        assertEquals(42, ProcessMemory.parse(status, "Threads"));
        assertEquals(-1, ProcessMemory.parse(status, "VmSwap"));
        // The resident size first: the peak read after it can only be higher (the other order
        // races with the JVM growing in between).
        long resident = ProcessMemory.residentBytes();
        long peak = ProcessMemory.peakResidentBytes();
        assertTrue(peak >= resident || resident < 0, "peak " + peak + " < resident " + resident);
    }
}
