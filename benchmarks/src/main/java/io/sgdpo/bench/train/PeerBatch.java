package io.sgdpo.bench.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.loss.PilotPositions;
import io.sgdpo.loss.PreferenceLoss;
import io.sgdpo.nn.PairExample;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The one minibatch both sides of the PyTorch comparison compute: B random pairs of a shape (token
 * ids, reference log-probs, SGDPO's pilot positions as the project's loss draws them at step 0)
 * and B generation prompts, written as JSON that bench/peer/torch_peer.py and {@link PeerWorker}
 * both read, so that the two sides see exactly the same batch.
 *
 * <p>Prompts take T/8 to T/4 tokens and each response T/4 up to what still fits in T, so rows are
 * of mixed lengths and both sides pad them to T (the project's layout, {@code PairedBatch}).
 */
public final class PeerBatch {

    /** Padding id of the batch. */
    public static final int PAD = 0;
    /** Seed of the pairs and of the pilots (the run seed of the loss). */
    public static final long SEED = 42;

    private static final ObjectMapper JSON = new ObjectMapper();

    private PeerBatch() {
    }

    /** The B pairs of a shape, with reference log-probs. */
    public static List<PairExample> pairs(PeerShape shape) {
        Random random = new Random(SEED + shape.name().hashCode());
        int t = shape.length();
        List<PairExample> pairs = new ArrayList<>();
        for (int i = 0; i < shape.pairs(); i++) {
            int prompt = Math.max(1, t / 8) + random.nextInt(Math.max(1, t / 8));
            int room = t + 1 - prompt; // prompt + response - 1 targets fit in T
            int minResponse = Math.max(1, t / 4);
            int chosen = minResponse + random.nextInt(room - minResponse + 1);
            int rejected = minResponse + random.nextInt(room - minResponse + 1);
            pairs.add(new PairExample(shape.name() + "-pair" + i, TrainBenchmark.ids(random, prompt, shape.vocab()),
                    TrainBenchmark.ids(random, chosen, shape.vocab()),
                    TrainBenchmark.ids(random, rejected, shape.vocab()), TrainBenchmark.logps(random, chosen),
                    TrainBenchmark.logps(random, rejected)));
        }
        return pairs;
    }

    /** B prompts of {@link PeerShape#promptLength()} tokens for greedy generation. */
    public static List<int[]> prompts(PeerShape shape) {
        Random random = new Random(SEED + 1 + shape.name().hashCode());
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < shape.pairs(); i++) {
            prompts.add(TrainBenchmark.ids(random, shape.promptLength(), shape.vocab()));
        }
        return prompts;
    }

    /** Writes the batch file: pad id, pairs (with the pilots {@code loss} draws at step 0), prompts. */
    public static void write(PeerShape shape, PreferenceLoss loss, Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("shape", shape.name());
        root.put("pad", PAD);
        ArrayNode pairs = root.putArray("pairs");
        for (PairExample p : pairs(shape)) {
            PilotPositions pilots = loss.drawPilots(SEED, 0, p.pairId(), p.chosen().length, p.rejected().length);
            ObjectNode n = pairs.addObject();
            n.put("id", p.pairId());
            ints(n.putArray("prompt"), p.prompt());
            ints(n.putArray("chosen"), p.chosen());
            ints(n.putArray("rejected"), p.rejected());
            doubles(n.putArray("refChosen"), p.refChosen());
            doubles(n.putArray("refRejected"), p.refRejected());
            ints(n.putArray("pilotChosen"), pilots.chosen());
            ints(n.putArray("pilotRejected"), pilots.rejected());
        }
        ArrayNode prompts = root.putArray("genPrompts");
        for (int[] prompt : prompts(shape)) {
            ints(prompts.addArray(), prompt);
        }
        Files.writeString(file, JSON.writeValueAsString(root));
    }

    /** The pairs of a batch file, as the project's data type. */
    public static List<PairExample> readPairs(Path file) throws IOException {
        List<PairExample> pairs = new ArrayList<>();
        for (JsonNode n : JSON.readTree(file.toFile()).path("pairs")) {
            pairs.add(new PairExample(n.path("id").asText(), ints(n.path("prompt")), ints(n.path("chosen")),
                    ints(n.path("rejected")), doubles(n.path("refChosen")), doubles(n.path("refRejected"))));
        }
        return pairs;
    }

    /** The generation prompts of a batch file. */
    public static List<int[]> readPrompts(Path file) throws IOException {
        List<int[]> prompts = new ArrayList<>();
        for (JsonNode n : JSON.readTree(file.toFile()).path("genPrompts")) {
            prompts.add(ints(n));
        }
        return prompts;
    }

    private static void ints(ArrayNode a, int[] values) {
        for (int v : values) {
            a.add(v);
        }
    }

    private static void doubles(ArrayNode a, double[] values) {
        for (double v : values) {
            a.add(v);
        }
    }

    private static int[] ints(JsonNode a) {
        int[] v = new int[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asInt();
        }
        return v;
    }

    private static double[] doubles(JsonNode a) {
        double[] v = new double[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asDouble();
        }
        return v;
    }
}
