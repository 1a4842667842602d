package io.sgdpo.train;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.spark.broadcast.Broadcast;
import scala.reflect.ClassTag$;

/**
 * A broadcast for Spark's local mode, whose tasks run in the driver's JVM: the value stays in this
 * JVM's memory and only a key travels with the tasks. Spark's own broadcast serializes and
 * compresses its value into blocks even in local mode, where no task reads them: for
 * ParameterAveraging, whose every round broadcasts the whole model's parameters and optimizer
 * state, 10 to 30 ms a round at the default decoder (README, "ParameterAveraging's arrays on the
 * wire"). A task that deserializes one in another JVM fails, naming the cause. The value is held
 * until {@link #release}.
 */
public final class InProcessBroadcast<T> extends Broadcast<T> {
    private static final long serialVersionUID = 1L;
    private static final Map<Long, Object> VALUES = new ConcurrentHashMap<>();
    /** Negative, so never one of Spark's own broadcast ids. */
    private static final AtomicLong NEXT_ID = new AtomicLong(-1);

    private InProcessBroadcast(long id, Class<T> type) {
        super(id, ClassTag$.MODULE$.apply(type));
    }

    /** Holds the value in this JVM until {@link #release}. */
    public static <T> InProcessBroadcast<T> of(T value, Class<T> type) {
        InProcessBroadcast<T> b = new InProcessBroadcast<>(NEXT_ID.getAndDecrement(), type);
        VALUES.put(b.id(), value);
        return b;
    }

    /** Lets go of the value; tasks that read it afterwards fail. */
    public void release() {
        VALUES.remove(id());
    }

    @Override
    @SuppressWarnings("unchecked")
    public T getValue() {
        Object value = VALUES.get(id());
        if (value == null) {
            throw new IllegalStateException("in-process broadcast " + id() + " is not held in this JVM: it is for"
                    + " Spark's local mode, whose tasks run in the driver's JVM, and only until its round ends");
        }
        return (T) value;
    }

    @Override
    public void doUnpersist(boolean blocking) {
    }

    @Override
    public void doDestroy(boolean blocking) {
        release();
    }
}
