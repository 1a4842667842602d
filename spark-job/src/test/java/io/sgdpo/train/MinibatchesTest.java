package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.nn.PairExample;
import io.sgdpo.nn.PairedBatch;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The epoch's minibatches, plain and grouped by length ({@code train.groupByLength}), in local mode. */
class MinibatchesTest {

    private static final int SIZE = 4;
    private static final long SEED = 42;

    private static SparkSession spark;
    private static JavaSparkContext sc;
    /** 2.5 groups of minibatches, of lengths from 3 to 60 positions, and 3 pairs left over. */
    private static final List<PairExample> PAIRS = pairs(SIZE * Minibatches.LENGTH_GROUP * 5 / 2 + 3);

    @BeforeAll
    static void setUp() {
        spark = SparkSession.builder().master("local[2]").appName("minibatches-test")
                .config("spark.ui.enabled", "false").getOrCreate();
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void tearDown() {
        spark.stop();
    }

    private static List<Minibatches.Batch> epoch(long epoch, boolean byLength, int partitions) {
        return Minibatches.of(sc.parallelize(PAIRS, 3), SIZE, SEED, epoch, false, byLength, partitions).collect();
    }

    @Test
    void groupedByLengthMinibatchesHoldPairsOfLikeLengthFromTheSameGroupOfTheEpochsOrder() {
        List<Minibatches.Batch> plain = epoch(1, false, 2);
        List<Minibatches.Batch> grouped = epoch(1, true, 2);
        int whole = PAIRS.size() / SIZE;
        assertEquals(whole, plain.size());
        assertEquals(whole, grouped.size());
        for (int i = 0; i < whole; i++) {
            assertEquals(i, grouped.get(i).index(), "indexes in order, none missing");
            assertEquals(SIZE, grouped.get(i).pairs().size());
        }
        // each group holds the pairs of the same group of the plain order, each once
        for (int from = 0; from < whole; from += Minibatches.LENGTH_GROUP) {
            int to = Math.min(whole, from + Minibatches.LENGTH_GROUP);
            List<String> expected = ids(plain.subList(from, to));
            List<String> actual = ids(grouped.subList(from, to));
            assertEquals(expected.size(), new HashSet<>(actual).size(), "no pair twice");
            assertEquals(new HashSet<>(expected), new HashSet<>(actual), "group from " + from);
        }
        // like length: far fewer positions once each minibatch is padded to its longest row
        long plainPositions = plain.stream().mapToLong(MinibatchesTest::longest).sum();
        long groupedPositions = grouped.stream().mapToLong(MinibatchesTest::longest).sum();
        assertTrue(groupedPositions < 0.8 * plainPositions, groupedPositions + " against " + plainPositions);
        // the minibatches of a group are not in order of length
        List<Integer> firstGroup = grouped.subList(0, Minibatches.LENGTH_GROUP).stream()
                .map(MinibatchesTest::longest).toList();
        assertNotEquals(firstGroup.stream().sorted(Comparator.reverseOrder()).toList(), firstGroup);
    }

    @Test
    void groupedByLengthMinibatchesAreAFunctionOfSeedEpochAndPairs() {
        List<String> twoPartitions = layout(epoch(1, true, 2));
        assertEquals(twoPartitions, layout(epoch(1, true, 5)), "whatever the partitions");
        assertNotEquals(twoPartitions, layout(epoch(2, true, 2)), "every epoch reshuffles");
    }

    private static int longest(Minibatches.Batch batch) {
        return batch.pairs().stream().mapToInt(PairedBatch::longestRow).max().orElseThrow();
    }

    /** Each minibatch as its index and pair ids. */
    private static List<String> layout(List<Minibatches.Batch> batches) {
        return batches.stream().map(b -> b.index() + ": " + ids(List.of(b))).toList();
    }

    private static List<String> ids(List<Minibatches.Batch> batches) {
        List<String> ids = new ArrayList<>();
        batches.forEach(b -> b.pairs().forEach(p -> ids.add(p.pairId())));
        return ids;
    }

    private static List<PairExample> pairs(int count) {
        Random r = new Random(3);
        List<PairExample> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int prompt = 1 + r.nextInt(30);
            out.add(new PairExample("p" + i, new int[prompt], new int[1 + r.nextInt(30)], new int[1 + r.nextInt(30)]));
        }
        return out;
    }
}
