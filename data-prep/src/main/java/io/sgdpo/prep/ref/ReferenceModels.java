package io.sgdpo.prep.ref;

import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.nn.Decoder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.atomic.AtomicInteger;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * The executor side's copy of the reference model: deserialised once per JVM and checkpoint (keyed
 * by the checkpoint's SHA-256), not once per task.
 *
 * <p>A {@link ComputationGraph} must not run forward passes on two threads at once, and an executor
 * runs one task per core, so tasks borrow a graph from a small pool: the loaded one, or a clone of
 * it when every copy is lent out. Copies are returned when the task ends and reused by the next one,
 * so a JVM holds at most one copy per concurrently running task. A different checkpoint replaces the
 * cached one (an executor scores with one reference at a time).
 */
final class ReferenceModels {

    private static final Object LOCK = new Object();
    private static final AtomicInteger LOADS = new AtomicInteger();
    private static String currentIdentity;
    private static ComputationGraph loaded;
    private static final Deque<ComputationGraph> IDLE = new ArrayDeque<>();

    private ReferenceModels() {
    }

    /** A graph of the checkpoint with this identity for the calling task's exclusive use. */
    static ComputationGraph borrow(String identity, java.util.function.Supplier<byte[]> modelBytes) {
        synchronized (LOCK) {
            if (!identity.equals(currentIdentity)) {
                Decoder.silenceSameDiffLog();
                try {
                    loaded = Checkpoints.readModel(new ByteArrayInputStream(modelBytes.get()), false);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot restore the reference model " + identity, e);
                }
                currentIdentity = identity;
                IDLE.clear();
                IDLE.push(loaded);
                LOADS.incrementAndGet();
            }
            ComputationGraph g = IDLE.poll();
            return g != null ? g : loaded.clone();
        }
    }

    /** Returns a borrowed graph to the pool (dropped if the cache moved on to another checkpoint). */
    static void giveBack(String identity, ComputationGraph graph) {
        synchronized (LOCK) {
            if (identity.equals(currentIdentity)) {
                IDLE.push(graph);
            }
        }
    }

    /** How many times this JVM deserialised a reference model (tests check it is once per checkpoint). */
    static int loads() {
        return LOADS.get();
    }
}
