package io.sgdpo.train;

import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.api.TrainingMaster;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.deeplearning4j.spark.parameterserver.training.SharedTrainingMaster;
import org.nd4j.parameterserver.distributed.conf.VoidConfiguration;

/**
 * Builds DL4J's Spark training master named by {@code train.master.kind}: {@code parameterAveraging}
 * or {@code sharedTraining}. Both are set up so that every RDD element, one whole minibatch of
 * {@code rows} rows, is fitted as it is: {@code batchSizePerWorker == rows} and no repartitioning
 * by DL4J (other settings were seen to re-batch elements and split pairs).
 */
public final class TrainingMasters {

    private TrainingMasters() {
    }

    /**
     * A trainer for the network with the master from config. ParameterAveraging splits each fit's
     * data among workers with its own random generator; a new master per fit, seeded from
     * (seed, step), makes that split a function of the step, so a resumed run retraces the
     * uninterrupted one bit for bit. SharedTraining keeps one master (its parameter server lives
     * across fits); its asynchronous updates are not deterministic anyway.
     */
    public static DistributedTrainer create(JavaSparkContext sc, ComputationGraph network, Config master, int rows,
                                            long seed) {
        boolean perFit = master.getString("kind").equals("parameterAveraging");
        return new DistributedTrainer() {
            private ComputationGraph current = network;
            private TrainingMaster<?, ?> tm = perFit ? null : master(master, rows, seed);
            private SparkComputationGraph spark = perFit ? null : new SparkComputationGraph(sc, network, tm);

            @Override
            public void fit(org.apache.spark.api.java.JavaRDD<org.nd4j.linalg.dataset.DataSet> minibatches, long step) {
                if (perFit) {
                    tm = master(master, rows, seed * 0x9e3779b97f4a7c15L + step);
                    spark = new SparkComputationGraph(sc, current, tm);
                }
                spark.fit(minibatches);
                current = spark.getNetwork();
                if (perFit) {
                    tm.deleteTempFiles(sc);
                }
            }

            @Override
            public ComputationGraph network() {
                return current;
            }

            @Override
            public void close() {
                if (!perFit) {
                    tm.deleteTempFiles(sc);
                }
            }
        };
    }

    /** Checks the {@code train.master} block, so that a bad value fails before any work. */
    public static void validate(Config master) {
        String kind = master.getString("kind");
        if (!kind.equals("parameterAveraging") && !kind.equals("sharedTraining")) {
            throw new ConfigurationException("train.master.kind: unknown training master '" + kind
                    + "'; expected parameterAveraging or sharedTraining");
        }
        int averaging = master.getInt("averagingFrequency");
        if (averaging < 1) {
            throw new ConfigurationException("train.master.averagingFrequency must be >= 1, got " + averaging);
        }
        int port = master.getInt("shared.port");
        if (port < 1 || port > 65535) {
            throw new ConfigurationException("train.master.shared.port must be a UDP port, got " + port);
        }
        int executorPort = master.getInt("shared.executorPort");
        if (executorPort < 0 || executorPort > 65535) {
            throw new ConfigurationException("train.master.shared.executorPort must be a UDP port or 0 (any free "
                    + "port), got " + executorPort);
        }
    }

    static TrainingMaster<?, ?> master(Config master, int rows, long seed) {
        validate(master);
        String kind = master.getString("kind");
        int averaging = master.getInt("averagingFrequency");
        return switch (kind) {
            case "parameterAveraging" -> new ParameterAveragingTrainingMaster.Builder(rows)
                    .batchSizePerWorker(rows)
                    .averagingFrequency(averaging)
                    .workerPrefetchNumBatches(0)
                    .repartionData(Repartition.Never)
                    .rddTrainingApproach(RDDTrainingApproach.Direct)
                    .saveUpdater(true)
                    .rngSeed(seed)
                    .build();
            case "sharedTraining" -> {
                Config shared = master.getConfig("shared");
                VoidConfiguration voidConf = VoidConfiguration.builder()
                        .networkMask(shared.getString("networkMask"))
                        .controllerAddress(shared.getString("controllerAddress"))
                        .build();
                voidConf.setPortSupplier(new SharedTrainingPorts(shared.getInt("port"), shared.getInt("executorPort")));
                yield new SharedTrainingMaster.Builder(voidConf, rows)
                        .batchSizePerWorker(rows)
                        .updatesThreshold(shared.getDouble("updatesThreshold"))
                        .workersPerNode(1)
                        .workerPrefetchNumBatches(0)
                        .repartitionData(Repartition.Never)
                        .rddTrainingApproach(RDDTrainingApproach.Export)
                        .rngSeed(seed)
                        .build();
            }
            default -> throw new ConfigurationException("train.master.kind: unknown training master '" + kind
                    + "'; expected parameterAveraging or sharedTraining");
        };
    }
}
