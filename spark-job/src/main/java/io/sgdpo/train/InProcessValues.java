package io.sgdpo.train;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Values kept in this JVM's memory under a key, for what Spark would serialize between the driver
 * of local mode and its tasks, which run in the same JVM: only the key is serialized. Reading a key
 * in another JVM, or after the value was let go, fails naming the cause.
 */
final class InProcessValues {
    private static final Map<Long, Object> VALUES = new ConcurrentHashMap<>();
    /** Negative, so that a key can serve as a broadcast id that is never one of Spark's own. */
    private static final AtomicLong NEXT_KEY = new AtomicLong(-1);

    private InProcessValues() {
    }

    /** Holds the value until {@link #release} or {@link #take}; returns its key. */
    static long hold(Object value) {
        long key = NEXT_KEY.getAndDecrement();
        VALUES.put(key, value);
        return key;
    }

    static Object get(long key) {
        Object value = VALUES.get(key);
        if (value == null) {
            throw new IllegalStateException("in-process value " + key + " is not held in this JVM: it is for Spark's"
                    + " local mode, whose tasks run in the driver's JVM, and only until it is let go");
        }
        return value;
    }

    /** The value, let go of. */
    static Object take(long key) {
        Object value = get(key);
        VALUES.remove(key);
        return value;
    }

    static void release(long key) {
        VALUES.remove(key);
    }
}
