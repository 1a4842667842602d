package io.sgdpo.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scoring passes {@link PairedBatch#passes} forms. */
class PairedBatchTest {

    /** A pair whose longer row holds {@code positions} positions (prompt 2, then responses). */
    private static PairExample pair(String id, int positions) {
        return new PairExample(id, new int[] {3, 4}, new int[positions - 1], new int[1]);
    }

    @Test
    void passesOfAShorterRowsLayoutHoldPairsOfLikeLengthEachPairOnce() {
        int[] lengths = {30, 5, 17, 5, 40, 9, 30, 2};
        List<PairExample> pairs = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            pairs.add(pair("p" + i, lengths[i]));
        }
        List<PairedBatch.Pass> passes = new PairedBatch(64, 0, 8).passes(pairs, 3);
        // longest row first, pairs of one length in their order
        assertEquals(List.of("[4, 0, 6]", "[2, 5, 1]", "[3, 7]"),
                passes.stream().map(p -> Arrays.toString(p.indices())).toList());
        for (PairedBatch.Pass pass : passes) {
            for (int k = 0; k < pass.indices().length; k++) {
                assertSame(pairs.get(pass.indices()[k]), pass.pairs().get(k));
            }
        }
    }

    @Test
    void passesOfAFixedLengthLayoutKeepThePairsOrder() {
        List<PairExample> pairs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            pairs.add(pair("p" + i, 20 - 3 * i));
        }
        List<PairedBatch.Pass> passes = new PairedBatch(64, 0).passes(pairs, 2);
        assertEquals(3, passes.size());
        assertArrayEquals(new int[] {0, 1}, passes.get(0).indices());
        assertArrayEquals(new int[] {2, 3}, passes.get(1).indices());
        assertArrayEquals(new int[] {4}, passes.get(2).indices());
        assertEquals(pairs.subList(2, 4), passes.get(1).pairs());
        assertThrows(IllegalArgumentException.class, () -> new PairedBatch(64, 0).passes(pairs, 0));
    }
}
