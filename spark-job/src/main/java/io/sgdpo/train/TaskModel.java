package io.sgdpo.train;

import io.sgdpo.nn.Decoder;
import java.io.Serializable;
import java.util.ArrayDeque;
import java.util.Deque;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The driver's model lent to the tasks of its Spark jobs, each task running on a graph of its own (a
 * {@link ComputationGraph} must not run two passes at once). The tasks' graphs are kept by each JVM
 * and reused by the next job on a model of the same configuration, which only overwrites their
 * parameters (without the optimizer's state) instead of building a graph per task and evaluation
 * (10 to 60 ms each at the default decoder). A JVM keeps as many graphs as it ran tasks at once, of
 * one configuration: another configuration replaces them.
 * In local mode the tasks run in the driver's JVM and copy the driver's parameters from its memory;
 * on a cluster the parameters are broadcast, packed ({@link PackedArray}). {@link #close} after the
 * jobs.
 */
public final class TaskModel implements Serializable, AutoCloseable {
    private static final long serialVersionUID = 1L;

    private final String configuration;
    private final InProcessBroadcast<INDArray> inProcess;
    private final Broadcast<PackedArray> packed;

    private TaskModel(String configuration, InProcessBroadcast<INDArray> inProcess, Broadcast<PackedArray> packed) {
        this.configuration = configuration;
        this.inProcess = inProcess;
        this.packed = packed;
    }

    /** Lends {@code graph} to the tasks of {@code sc}'s jobs: from this JVM's memory in local mode, else broadcast. */
    public static TaskModel of(JavaSparkContext sc, ComputationGraph graph) {
        return sc.isLocal() ? inProcess(graph) : broadcast(sc, graph);
    }

    /** Parameters held in this JVM: for local mode, whose tasks run here. */
    static TaskModel inProcess(ComputationGraph graph) {
        return new TaskModel(graph.getConfiguration().toJson(), InProcessBroadcast.of(graph.params(), INDArray.class),
                null);
    }

    /** Parameters broadcast: for tasks in other JVMs. */
    static TaskModel broadcast(JavaSparkContext sc, ComputationGraph graph) {
        return new TaskModel(graph.getConfiguration().toJson(), null, sc.broadcast(PackedArray.of(graph.params())));
    }

    /**
     * On an executor: a graph with the lent parameters, for the calling task alone until the task
     * ends. Outside a task (a test) the graph is not given back.
     */
    public ComputationGraph borrow() {
        INDArray parameters = inProcess != null ? inProcess.value() : packed.value().unpack();
        ComputationGraph graph = Graphs.take(configuration, parameters);
        TaskContext task = TaskContext.get();
        if (task != null) {
            task.addTaskCompletionListener((TaskContext ended) -> Graphs.giveBack(configuration, graph));
        }
        return graph;
    }

    /** Lets go of the parameters: tasks that borrow them afterwards fail. The JVMs keep their graphs. */
    @Override
    public void close() {
        if (inProcess != null) {
            inProcess.release();
        } else {
            packed.destroy();
        }
    }

    /** This JVM's idle task graphs, of one configuration. */
    static final class Graphs {
        private static String configuration;
        private static final Deque<ComputationGraph> IDLE = new ArrayDeque<>();
        private static int built;

        private Graphs() {
        }

        static ComputationGraph take(String json, INDArray parameters) {
            ComputationGraph graph;
            synchronized (Graphs.class) {
                if (!json.equals(configuration)) {
                    configuration = json;
                    IDLE.clear();
                }
                graph = IDLE.poll();
                if (graph == null) {
                    built++;
                }
            }
            if (graph == null) {
                Decoder.silenceSameDiffLog();
                graph = new ComputationGraph(ComputationGraphConfiguration.fromJson(json));
                graph.init(parameters.dup(), false);
            } else {
                graph.params().assign(parameters);
            }
            return graph;
        }

        static synchronized void giveBack(String json, ComputationGraph graph) {
            if (json.equals(configuration)) {
                IDLE.push(graph);
            }
        }

        /** Graphs this JVM built so far (tests check that later jobs reuse them). */
        static synchronized int built() {
            return built;
        }
    }
}
