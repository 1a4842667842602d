package io.sgdpo.bench.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * {@link PeerComparison} over a bench-peer JSON whose per-repeat values are known: ratios of
 * medians, peak memory ratios, the fraction of the matmul bound and the goals are those computed
 * here by hand; a shape the project cannot build yet is reported as such, with its PyTorch figure.
 */
class PeerComparisonTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long GPT2_FLOPS = PeerShape.named("gpt2").forwardFlopsPerToken();

    /** tiny and gpt2 measured on both sides, stories260k on PyTorch's only. */
    static ObjectNode peerJson() {
        ObjectNode root = JSON.createObjectNode();
        root.put("benchmark", "peer");
        root.put("command", "./sgdpo bench-peer --quick");
        root.put("torch", "1.13.0a0");
        root.put("threads", 2);
        root.put("warmups", 10);
        root.putObject("matmul").put("nd4jGflops", 150.0).put("pytorchGflops", 200.0);
        ObjectNode shapes = root.putObject("shapes");
        for (String name : new String[] {"tiny", "gpt2", "stories260k"}) {
            PeerShape s = PeerShape.named(name);
            shapes.putObject(name).put("description", s.describe()).put("forwardFlopsPerToken",
                    s.forwardFlopsPerToken());
        }
        ArrayNode results = root.putArray("results");
        // perSecond values per repeat (odd and even counts), peak MiB per repeat
        variant(results, "tiny train project", new double[] {1500, 1600, 1700}, new double[] {400, 420, 410});
        variant(results, "tiny train pytorch", new double[] {8000, 9000, 8800}, new double[] {300, 300, 310});
        variant(results, "tiny ref project", new double[] {5000, 6000}, new double[] {350, 360});
        variant(results, "tiny ref pytorch", new double[] {20000, 22000}, new double[] {250, 250});
        variant(results, "tiny gen project", new double[] {100, 120, 110}, new double[] {300, 300, 300});
        variant(results, "tiny gen pytorch", new double[] {400, 500, 450}, new double[] {240, 240, 240});
        variant(results, "tiny gen pytorch no cache", new double[] {50, 60, 55}, new double[] {240, 240, 240});
        variant(results, "gpt2 train project", new double[] {60, 57, 50}, new double[] {4400, 4300, 4500});
        variant(results, "gpt2 train pytorch", new double[] {64, 66, 65}, new double[] {3700, 3700, 3800});
        variant(results, "gpt2 ref project", new double[] {200}, new double[] {2000});
        variant(results, "gpt2 ref pytorch", new double[] {180}, new double[] {1500});
        variant(results, "gpt2 gen project", new double[] {1.0}, new double[] {2100});
        variant(results, "gpt2 gen pytorch", new double[] {20.0}, new double[] {1600});
        variant(results, "gpt2 gen pytorch no cache", new double[] {5.0}, new double[] {1600});
        variant(results, "stories260k train pytorch", new double[] {9000}, new double[] {280});
        return root;
    }

    private static void variant(ArrayNode results, String name, double[] perSecond, double[] peak) {
        ObjectNode v = results.addObject().put("variant", name);
        ObjectNode perRepeat = v.putObject("perRepeat");
        Arrays.stream(perSecond).map(x -> 1000 / x).forEach(perRepeat.putArray("seconds")::add);
        Arrays.stream(perSecond).forEach(perRepeat.putArray("perSecond")::add);
        Arrays.stream(peak).forEach(perRepeat.putArray("peakRssMiB")::add);
        // a stale stored summary must not be what the comparison reads
        v.putObject("summary").putObject("perSecond").put("median", -1);
    }

    private static JsonNode row(JsonNode comparison, String shape, String figure) {
        for (JsonNode r : comparison.path("rows")) {
            if (r.path("shape").asText().equals(shape) && r.path("figure").asText().equals(figure)) {
                return r;
            }
        }
        throw new AssertionError("no row " + shape + " " + figure);
    }

    private static JsonNode goal(JsonNode comparison, String startsWith) {
        for (JsonNode g : comparison.path("goals")) {
            if (g.path("goal").asText().startsWith(startsWith)) {
                return g;
            }
        }
        throw new AssertionError("no goal " + startsWith);
    }

    @Test
    void ratiosOfMediansPeaksAndMatmulFractions() {
        JsonNode c = PeerComparison.compare(peerJson());
        assertEquals(200.0, c.path("matmulBoundGflops").asDouble(), 1e-12, "the higher of the two matmul rates");

        JsonNode tinyTrain = row(c, "tiny", "train");
        assertEquals(1600.0, tinyTrain.path("project").path("median").asDouble());
        assertEquals(1500.0, tinyTrain.path("project").path("min").asDouble());
        assertEquals(1700.0, tinyTrain.path("project").path("max").asDouble());
        assertEquals(1600.0 / 8800.0, tinyTrain.path("ratio").asDouble(), 1e-12);
        assertEquals(410.0 / 300.0, tinyTrain.path("peakRatio").asDouble(), 1e-12);
        long tinyFlops = PeerShape.named("tiny").forwardFlopsPerToken();
        assertEquals(3.0 * tinyFlops * 1600 / 200e9, tinyTrain.path("projectMatmulFraction").asDouble(), 1e-15);
        assertEquals(3.0 * tinyFlops * 8800 / 200e9, tinyTrain.path("pytorchMatmulFraction").asDouble(), 1e-15);

        JsonNode tinyRef = row(c, "tiny", "ref"); // even count: mean of the two middle values
        assertEquals(5500.0 / 21000.0, tinyRef.path("ratio").asDouble(), 1e-12);
        assertEquals(1.0 * tinyFlops * 5500 / 200e9, tinyRef.path("projectMatmulFraction").asDouble(), 1e-15);

        JsonNode tinyGen = row(c, "tiny", "gen");
        assertEquals(110.0 / 450.0, tinyGen.path("ratio").asDouble(), 1e-12);
        assertEquals(110.0 / 55.0, tinyGen.path("ratioNoCache").asDouble(), 1e-12);
        assertFalse(tinyGen.has("projectMatmulFraction"), "no FLOP count for generation");

        JsonNode llama = row(c, "stories260k", "train");
        assertEquals("not measured in this run", llama.path("status").asText());
        assertTrue(llama.path("project").isNull());
        assertEquals(9000.0, llama.path("pytorch").path("median").asDouble(), "PyTorch's figure is still shown");
        assertFalse(llama.has("ratio"));
        assertEquals("not measured in this run", row(c, "stories260k", "ref").path("status").asText());
    }

    @Test
    void goalsAreMetMissedOrNotInTheRun() {
        JsonNode c = PeerComparison.compare(peerJson());
        JsonNode gpt2Train = goal(c, "training step >= 1.0x PyTorch at the GPT-2");
        assertEquals(57.0 / 65.0, gpt2Train.path("value").asDouble(), 1e-12);
        assertEquals("missed", gpt2Train.path("status").asText());
        assertFalse(gpt2Train.path("met").asBoolean());

        JsonNode mfu = goal(c, "GPT-2 shape training step >= 40%");
        assertEquals(3.0 * GPT2_FLOPS * 57 / 200e9, mfu.path("value").asDouble(), 1e-15);

        JsonNode ref = goal(c, "reference pass >= 1.0x PyTorch at the GPT-2");
        assertEquals(200.0 / 180.0, ref.path("value").asDouble(), 1e-12);
        assertEquals("met", ref.path("status").asText());

        JsonNode memory = goal(c, "peak memory <= 1.2x");
        assertEquals(4400.0 / 3700.0, memory.path("value").asDouble(), 1e-12);
        assertEquals("met", memory.path("status").asText(), "an at-most goal is met below its target");
        assertEquals("<= 1.2", memory.path("target").asText());

        JsonNode mid = goal(c, "training step >= 1.0x PyTorch at the mid");
        assertTrue(mid.path("value").isNull());
        assertEquals("shape not in this run", mid.path("status").asText());
        assertEquals("missed", goal(c, "training step >= 0.5x PyTorch at the tiny").path("status").asText());
    }

    @Test
    void markdownHasEveryRowAndGoal() {
        JsonNode c = PeerComparison.compare(peerJson());
        String md = PeerComparison.markdown(c);
        assertTrue(md.startsWith("Medians (min–max) over every timed repeat (each process's, after 10 untimed warm-ups);"),
                md);
        assertTrue(md.contains("| tiny | train (positions/s) | 1600 (1500–1700) | 8800 (8000–9000) | **0.1818** | 410 / 300"
                + " (1.367) |"), md);
        assertTrue(md.contains("| tiny | gen (tokens/s) | 110 (100–120) | 450 (400–500) | **0.2444** |"), md);
        assertTrue(md.contains("55 (50–60) (ratio 2) |"), md);
        assertTrue(md.contains("| stories260k | train (positions/s) | not measured in this run | 9000 (9000–9000) |"),
                md);
        assertTrue(md.contains("| peak memory <= 1.2x PyTorch's at the GPT-2 shape (training step) | <= 1.2 | 1.189 | met |"),
                md);
        assertEquals(c.path("rows").size() + c.path("goals").size(), md.lines().filter(l -> l.startsWith("| ")
                && !l.startsWith("| shape") && !l.startsWith("| goal")).count());
    }

    @Test
    void flopsOfTheGptShapesAreTheDecodersOwn() {
        for (String name : new String[] {"tiny", "mid", "gpt2"}) {
            PeerShape s = PeerShape.named(name);
            assertEquals(new io.sgdpo.nn.DecoderConfig(s.vocab(), s.dModel(), s.layers(), s.heads(), s.length(), 0, 1)
                    .forwardFlopsPerToken(), s.forwardFlopsPerToken(), name);
        }
        // Llama: q and o d x d, k and v d x (kv heads x head size), SwiGLU 3 d f, attention 4 T d, head 2 d V
        PeerShape llama = PeerShape.named("stories260k");
        long d = 64;
        long kv = 4 * (64 / 8);
        long perBlock = 2 * (2 * d * d + 2 * d * kv + 3 * d * 172) + 4L * 256 * d;
        assertEquals(5 * perBlock + 2 * d * 512, llama.forwardFlopsPerToken());
    }
}
