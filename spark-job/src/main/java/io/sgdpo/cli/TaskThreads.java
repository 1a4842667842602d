package io.sgdpo.cli;

import io.sgdpo.config.ConfigurationException;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The native threads (libnd4j's, OpenMP's and OpenBLAS's) that each Spark task's ND4J work runs on:
 * {@code spark.task.cpus}, the cores Spark gives a task, as PySpark sets {@code OMP_NUM_THREADS} for
 * its Python workers. ND4J's default is one thread per core for every operation of every task, so
 * Spark's concurrent tasks each start as many native threads as there are cores: on local[2] of a
 * 2-core machine, four threads took turns on two cores, and each operation of a small model paid for
 * waking its helper thread (README, "Native threads per Spark task").
 *
 * <p>On a cluster the executors read it from their environment ({@link #forExecutors}); in local mode
 * the tasks run in this JVM, which {@link #inLocalMode} sets for the session's life: the cores
 * times {@code spark.task.cpus} over the master's task slots, never more than ND4J had. The
 * {@value #KEY} Spark property overrides both.
 */
public final class TaskThreads implements AutoCloseable {

    /** Spark property: native threads per task, overriding the count derived from the cores. */
    public static final String KEY = "spark.sgdpo.nativeThreadsPerTask";

    private static final Pattern LOCAL = Pattern.compile("local(?:\\[(\\*|\\d+)(?:,\\s*\\d+)?])?");
    private static final List<String> EXECUTOR_VARIABLES = List.of("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS");

    private final int threads;
    private final int[] before;

    private TaskThreads(int threads, int[] before) {
        this.threads = threads;
        this.before = before;
    }

    /**
     * Before the session starts: on a cluster (any master but local), gives the executors' environment
     * {@code OMP_NUM_THREADS} and {@code OPENBLAS_NUM_THREADS} of the tasks' share, unless the
     * configuration sets them ({@code spark.executorEnv.*}).
     */
    public static void forExecutors(SparkConf conf) {
        if (LOCAL.matcher(conf.get("spark.master", "local[*]")).matches()) {
            return;
        }
        String threads = String.valueOf(conf.contains(KEY) ? requested(conf) : taskCpus(conf));
        for (String variable : EXECUTOR_VARIABLES) {
            conf.setIfMissing("spark.executorEnv." + variable, threads);
        }
    }

    /**
     * In local mode, sets this JVM's native threads to each task's share until {@link #close};
     * on a cluster it changes nothing (the driver runs no tasks).
     */
    public static TaskThreads inLocalMode(SparkContext sc) {
        Matcher local = LOCAL.matcher(sc.master());
        if (!local.matches()) {
            return new TaskThreads(0, null);
        }
        int cores = Runtime.getRuntime().availableProcessors();
        int[] before = current();
        int threads = sc.getConf().contains(KEY) ? requested(sc.getConf())
                : perTask(cores, slots(local.group(1), cores), taskCpus(sc.getConf()), before[0]);
        set(new int[] {threads, threads, threads});
        return new TaskThreads(threads, before);
    }

    /**
     * Each task's share of the cores: cores x task cpus over task slots, at least 1 and at most the
     * threads ND4J runs with already (an {@code OMP_NUM_THREADS} of the environment stays a ceiling).
     */
    static int perTask(int cores, int slots, int taskCpus, int current) {
        return Math.max(1, Math.min(current, cores * taskCpus / slots));
    }

    /** Tasks a local master runs at once: {@code local} 1, {@code local[N]} N, {@code local[*]} the cores. */
    static int slots(String bracket, int cores) {
        if (bracket == null) {
            return 1;
        }
        return bracket.equals("*") ? cores : Math.max(1, Integer.parseInt(bracket));
    }

    /** Native threads each task runs on in this JVM (0 when the session is not in local mode). */
    public int threads() {
        return threads;
    }

    /** Gives this JVM back the thread counts it had before {@link #inLocalMode}. */
    @Override
    public void close() {
        if (before != null) {
            set(before);
        }
    }

    private static int taskCpus(SparkConf conf) {
        return conf.getInt("spark.task.cpus", 1);
    }

    private static int requested(SparkConf conf) {
        String value = conf.get(KEY);
        try {
            int threads = Integer.parseInt(value.trim());
            if (threads >= 1) {
                return threads;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ConfigurationException(KEY + " must be a whole number of threads >= 1, got '" + value + "'");
    }

    /**
     * The threads libnd4j splits an operation over (its "master" threads: its thread pool, sized at
     * start-up, cannot be resized), OpenBLAS's and OpenMP's.
     */
    private static int[] current() {
        return new int[] {Nd4j.getEnvironment().maxMasterThreads(), Nd4j.factory().blas().getMaxThreads(),
                NativeOpsHolder.getInstance().getDeviceNativeOps().ompGetMaxThreads()};
    }

    private static void set(int[] threads) {
        Nd4j.getEnvironment().setMaxMasterThreads(threads[0]);
        Nd4j.factory().blas().setMaxThreads(threads[1]);
        NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(threads[2]);
    }
}
