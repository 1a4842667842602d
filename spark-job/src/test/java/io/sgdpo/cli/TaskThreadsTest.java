package io.sgdpo.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.config.ConfigurationException;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Each Spark task's native threads: the share rule, the executors' environment on a cluster, and
 * this JVM's ND4J and OpenBLAS thread counts in local mode, set for the session and given back.
 */
@Tag("spark")
class TaskThreadsTest {

    @Test
    void eachTaskGetsItsShareOfTheCoresNeverMoreThanNd4jHadAndAtLeastOne() {
        assertEquals(1, TaskThreads.perTask(2, 2, 1, 2), "local[2] on 2 cores");
        assertEquals(8, TaskThreads.perTask(16, 2, 1, 16), "local[2] on 16 cores");
        assertEquals(4, TaskThreads.perTask(16, 2, 1, 4), "an OMP_NUM_THREADS of 4 stays the ceiling");
        assertEquals(1, TaskThreads.perTask(2, 4, 1, 2), "more slots than cores: still one thread");
        assertEquals(4, TaskThreads.perTask(8, 4, 2, 8), "spark.task.cpus 2");
        assertEquals(1, TaskThreads.slots(null, 8), "local");
        assertEquals(8, TaskThreads.slots("*", 8), "local[*]");
        assertEquals(3, TaskThreads.slots("3", 8), "local[3]");
    }

    @Test
    void clusterExecutorsGetTheTaskCpusInTheirEnvironmentUnlessTheConfigurationSetsThem() {
        SparkConf cluster = new SparkConf(false).setMaster("spark://driver:7077").set("spark.task.cpus", "2")
                .set("spark.executorEnv.OPENBLAS_NUM_THREADS", "4");
        TaskThreads.forExecutors(cluster);
        assertEquals("2", cluster.get("spark.executorEnv.OMP_NUM_THREADS"));
        assertEquals("4", cluster.get("spark.executorEnv.OPENBLAS_NUM_THREADS"), "the user's setting stays");

        SparkConf requested = new SparkConf(false).setMaster("yarn").set(TaskThreads.KEY, "3");
        TaskThreads.forExecutors(requested);
        assertEquals("3", requested.get("spark.executorEnv.OMP_NUM_THREADS"));
        assertEquals("3", requested.get("spark.executorEnv.OPENBLAS_NUM_THREADS"));

        for (String master : new String[] {"local", "local[2]", "local[*]", "local[2,3]"}) {
            SparkConf local = new SparkConf(false).setMaster(master);
            TaskThreads.forExecutors(local);
            assertFalse(local.contains("spark.executorEnv.OMP_NUM_THREADS"), master + ": no executors to set");
        }

        SparkConf bad = new SparkConf(false).setMaster("yarn").set(TaskThreads.KEY, "0");
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> TaskThreads.forExecutors(bad));
        assertTrue(e.getMessage().contains(TaskThreads.KEY) && e.getMessage().contains("'0'"), e.getMessage());
    }

    @Test
    void localModeSetsThisJvmsThreadsForTheSessionAndGivesThemBack() {
        int master = Nd4j.getEnvironment().maxMasterThreads();
        int blas = Nd4j.factory().blas().getMaxThreads();
        // the tests run with one native thread (pom.xml), and libnd4j cannot go above its start-up
        // count; OpenBLAS can, so two of its threads show the session setting and giving back
        Nd4j.factory().blas().setMaxThreads(2);
        SparkSession spark = SparkSession.builder().master("local[2]").appName("task-threads")
                .config("spark.ui.enabled", "false").getOrCreate();
        try {
            int expected = TaskThreads.perTask(Runtime.getRuntime().availableProcessors(), 2, 1, master);
            try (TaskThreads threads = TaskThreads.inLocalMode(spark.sparkContext())) {
                assertEquals(expected, threads.threads());
                assertEquals(expected, Nd4j.getEnvironment().maxMasterThreads());
                assertEquals(expected, Nd4j.factory().blas().getMaxThreads());
            }
            assertEquals(2, Nd4j.factory().blas().getMaxThreads(), "given back");
            assertEquals(master, Nd4j.getEnvironment().maxMasterThreads(), "given back");

            spark.sparkContext().conf().set(TaskThreads.KEY, "1");
            try (TaskThreads threads = TaskThreads.inLocalMode(spark.sparkContext())) {
                assertEquals(1, threads.threads());
                assertEquals(1, Nd4j.factory().blas().getMaxThreads());
            }
            assertEquals(2, Nd4j.factory().blas().getMaxThreads(), "given back");
        } finally {
            spark.stop();
            Nd4j.factory().blas().setMaxThreads(blas);
        }
    }
}
