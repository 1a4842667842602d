package io.sgdpo.train;

import org.apache.spark.broadcast.Broadcast;
import scala.reflect.ClassTag$;

/**
 * A broadcast for Spark's local mode, whose tasks run in the driver's JVM: the value stays in this
 * JVM's memory and only a key travels with the tasks. Spark's own broadcast serializes and
 * compresses its value into blocks even in local mode, where no task reads them: for
 * ParameterAveraging, whose every round broadcasts the whole model's parameters and optimizer
 * state, 10 to 30 ms a round at the default decoder (README, "ParameterAveraging's arrays on the
 * wire"). A task that deserializes one in another JVM fails, naming the cause. The value is held
 * ({@link InProcessValues}) until {@link #release}.
 */
public final class InProcessBroadcast<T> extends Broadcast<T> {
    private static final long serialVersionUID = 1L;

    private InProcessBroadcast(long id, Class<T> type) {
        super(id, ClassTag$.MODULE$.apply(type));
    }

    /** Holds the value in this JVM until {@link #release}. */
    public static <T> InProcessBroadcast<T> of(T value, Class<T> type) {
        return new InProcessBroadcast<>(InProcessValues.hold(value), type);
    }

    /** Lets go of the value; tasks that read it afterwards fail. */
    public void release() {
        InProcessValues.release(id());
    }

    @Override
    @SuppressWarnings("unchecked")
    public T getValue() {
        return (T) InProcessValues.get(id());
    }

    @Override
    public void doUnpersist(boolean blocking) {
    }

    @Override
    public void doDestroy(boolean blocking) {
        release();
    }
}
