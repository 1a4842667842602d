package io.sgdpo.train;

import io.sgdpo.nn.PairExample;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import scala.Tuple2;

/**
 * Groups pairs into whole minibatches: each element of the result is one minibatch of exactly
 * {@code size} pairs with its index in the epoch, so no pair is ever split across workers or
 * minibatches (a minibatch is one RDD element, and Spark moves elements whole).
 *
 * <p>The order is a pure function of (seed, epoch, pair id): the same data gives the same
 * minibatches whatever the number of partitions or executors, and every epoch reshuffles.
 */
public final class Minibatches {

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
        return ordered
                .filter(t -> t._1() / size < whole)
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
