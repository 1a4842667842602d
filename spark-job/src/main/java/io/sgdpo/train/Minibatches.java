package io.sgdpo.train;

import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.apache.spark.api.java.JavaRDD;
import scala.Tuple2;

/**
 * Groups pairs into whole minibatches: each element of the result is one minibatch of exactly
 * {@code size} pairs with its index in the epoch, so no pair is ever split across workers or
 * minibatches (a minibatch is one RDD element, and Spark moves elements whole).
 *
 * <p>The order is a pure function of (seed, epoch, pair id): the same data gives the same
 * minibatches whatever the number of partitions or executors, and every epoch reshuffles.
 *
 * <p>Grouped by length ({@code train.groupByLength}, as Hugging Face's {@code group_by_length}):
 * the epoch's order is cut into groups of {@link #LENGTH_GROUP} minibatches' pairs; each group's
 * pairs are sorted by their longest row ({@link PairedBatch#longestRow}, longest first, ties in the
 * epoch's order) and cut into minibatches, whose order within the group is drawn from (seed, epoch,
 * group). Each minibatch then holds pairs of like length, so that padded to its own longest row it
 * computes fewer positions; which pairs share a step is no longer random within a group.
 */
public final class Minibatches {

    /** Minibatches per group of pairs sorted by length (Hugging Face's sampler groups 50 too). */
    public static final int LENGTH_GROUP = 50;

    private Minibatches() {
    }

    /** One minibatch and its position in the epoch. */
    public record Batch(long index, List<PairExample> pairs) implements Serializable {
    }

    /**
     * @param keepPartial keep a last, smaller minibatch (evaluation) or drop it (training)
     */
    public static JavaRDD<Batch> of(JavaRDD<PairExample> pairs, int size, long seed, long epoch, boolean keepPartial,
                                    int partitions) {
        return of(pairs, size, seed, epoch, keepPartial, false, partitions);
    }

    /**
     * @param keepPartial keep a last, smaller minibatch (evaluation) or drop it (training)
     * @param byLength    group pairs of like length into minibatches (see the class comment)
     */
    public static JavaRDD<Batch> of(JavaRDD<PairExample> pairs, int size, long seed, long epoch, boolean keepPartial,
                                    boolean byLength, int partitions) {
        if (size < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + size);
        }
        JavaRDD<Tuple2<Long, PairExample>> ordered = pairs
                .keyBy(p -> orderKey(seed, epoch, p.pairId()) + "|" + p.pairId())
                .sortByKey(true, partitions)
                .values()
                .zipWithIndex()
                .map(t -> new Tuple2<>(t._2(), t._1()));
        long total = ordered.count();
        long whole = keepPartial ? (total + size - 1) / size : total / size;
        JavaRDD<Tuple2<Long, PairExample>> kept = ordered.filter(t -> t._1() / size < whole);
        if (byLength) {
            long group = (long) size * LENGTH_GROUP;
            return kept
                    .groupBy(t -> t._1() / group, partitions)
                    .flatMap(g -> lengthGroup(g._1(), g._2(), size, seed, epoch).iterator())
                    .sortBy(Batch::index, true, partitions);
        }
        return kept
                .groupBy(t -> t._1() / size, partitions)
                .map(g -> {
                    List<Tuple2<Long, PairExample>> members = new ArrayList<>();
                    g._2().forEach(members::add);
                    members.sort(Comparator.comparingLong(Tuple2::_1));
                    List<PairExample> batch = new ArrayList<>(members.size());
                    members.forEach(m -> batch.add(m._2()));
                    return new Batch(g._1(), batch);
                })
                .sortBy(Batch::index, true, partitions);
    }

    /** Group {@code group}'s pairs (index in the epoch's order, pair) as minibatches of like length. */
    static List<Batch> lengthGroup(long group, Iterable<Tuple2<Long, PairExample>> members, int size, long seed,
                                   long epoch) {
        List<Tuple2<Long, PairExample>> sorted = new ArrayList<>();
        members.forEach(sorted::add);
        sorted.sort(Comparator.comparingLong(Tuple2::_1));
        sorted.sort(Comparator.comparingInt(t -> -PairedBatch.longestRow(t._2()))); // stable: ties by index
        List<List<PairExample>> batches = new ArrayList<>();
        for (int from = 0; from < sorted.size(); from += size) {
            List<PairExample> batch = new ArrayList<>(size);
            sorted.subList(from, Math.min(sorted.size(), from + size)).forEach(t -> batch.add(t._2()));
            batches.add(batch);
        }
        Collections.shuffle(batches, new Random(Long.parseUnsignedLong(orderKey(seed, epoch, "group " + group), 16)));
        List<Batch> out = new ArrayList<>(batches.size());
        for (int k = 0; k < batches.size(); k++) {
            out.add(new Batch(group * LENGTH_GROUP + k, batches.get(k)));
        }
        return out;
    }

    /** A hex sort key: a 64-bit hash of (seed, epoch, pair id). */
    static String orderKey(long seed, long epoch, String pairId) {
        long h = 0xcbf29ce484222325L ^ seed * 0x9e3779b97f4a7c15L ^ epoch * 0xc2b2ae3d27d4eb4fL;
        for (byte b : pairId.getBytes(StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        return String.format("%016x", h);
    }
}
