package io.sgdpo.train;

import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.ModelZip;
import io.sgdpo.nn.Decoder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.util.ArrayDeque;
import java.util.Deque;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * The driver's model lent to the tasks of its Spark jobs, each task running on a graph of its own (a
 * {@link ComputationGraph} must not run two passes at once). In local mode the tasks run in the
 * driver's JVM and nothing is serialized: the first task borrows the driver's graph itself, a task
 * running beside it a copy of its parameters (without the optimizer's state), and a task that ends
 * gives its graph back for the next. On a cluster the model file ({@link ModelZip}, without the
 * optimizer's state) is broadcast and each task reads its own copy. The driver must not use the graph
 * while a job borrows it; {@link #close} after the jobs.
 */
public final class TaskModel implements Serializable, AutoCloseable {
    private static final long serialVersionUID = 1L;

    private final InProcessBroadcast<Lender> inProcess;
    private final Broadcast<byte[]> file;

    private TaskModel(InProcessBroadcast<Lender> inProcess, Broadcast<byte[]> file) {
        this.inProcess = inProcess;
        this.file = file;
    }

    /** Lends {@code graph} to the tasks of {@code sc}'s jobs: in this JVM in local mode, else as a file. */
    public static TaskModel of(JavaSparkContext sc, ComputationGraph graph) {
        return sc.isLocal() ? inProcess(graph) : asFile(sc, graph);
    }

    /** Held in this JVM: for local mode, whose tasks run here. */
    static TaskModel inProcess(ComputationGraph graph) {
        return new TaskModel(InProcessBroadcast.of(new Lender(graph), Lender.class), null);
    }

    /** Broadcast as a model file: for tasks in other JVMs. */
    static TaskModel asFile(JavaSparkContext sc, ComputationGraph graph) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            ModelZip.write(graph, bytes, false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serialise the model to broadcast it", e);
        }
        return new TaskModel(null, sc.broadcast(bytes.toByteArray()));
    }

    /**
     * On an executor: a graph for the calling task alone, until the task ends. Outside a task (a
     * test) the graph is never given back.
     */
    public ComputationGraph borrow() {
        if (inProcess == null) {
            Decoder.silenceSameDiffLog();
            try {
                return Checkpoints.readModel(new ByteArrayInputStream(file.value()), false);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the broadcast model", e);
            }
        }
        Lender lender = inProcess.value();
        ComputationGraph graph = lender.take();
        TaskContext task = TaskContext.get();
        if (task != null) {
            task.addTaskCompletionListener((TaskContext ended) -> lender.giveBack(graph));
        }
        return graph;
    }

    /** Lets go of the model: tasks that borrow it afterwards fail. */
    @Override
    public void close() {
        if (inProcess != null) {
            inProcess.release();
        } else {
            file.destroy();
        }
    }

    /** The driver's graph and the copies made of it, each lent to one task at a time. */
    static final class Lender {
        private final ComputationGraph original;
        private final Deque<ComputationGraph> idle = new ArrayDeque<>();
        private int copies;

        Lender(ComputationGraph original) {
            this.original = original;
            idle.push(original);
        }

        synchronized ComputationGraph take() {
            ComputationGraph g = idle.poll();
            if (g != null) {
                return g;
            }
            // The parameters only: a forward pass needs no optimizer state (Adam's is twice the parameters).
            ComputationGraph copy = new ComputationGraph(original.getConfiguration().clone());
            copy.init(original.params().dup(), false);
            copies++;
            return copy;
        }

        synchronized void giveBack(ComputationGraph graph) {
            idle.push(graph);
        }

        /** Copies made so far (tests check that tasks one after another share one graph). */
        synchronized int copies() {
            return copies;
        }
    }

    /** The in-process lender (tests). */
    Lender lender() {
        return inProcess.value();
    }
}
