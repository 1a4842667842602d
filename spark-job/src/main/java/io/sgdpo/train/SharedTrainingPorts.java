package io.sgdpo.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import org.apache.spark.SparkEnv;
import org.nd4j.parameterserver.distributed.v2.transport.PortSupplier;

/**
 * The UDP ports of SharedTraining's Aeron mesh. DL4J asks one supplier for the port of every node:
 * the driver (the mesh's root, at {@code train.master.shared.controllerAddress}) and each executor.
 * A single fixed port works only with one executor per host and no executor beside the driver:
 * two executor JVMs on one machine (a YARN node with several executors, or the loopback cluster of
 * bench/cluster.sh) would bind the same port and each take itself for the root. So the driver gets
 * {@code train.master.shared.port}, and each executor {@code train.master.shared.executorPort}.
 * For both, 0 means any free UDP port: the driver's is chosen when the run's master is built (DL4J
 * sends it to the executors), so that two jobs on one machine, or a job beside a test JVM, do not
 * take the same root port; an executor's is chosen once per JVM.
 *
 * <p>DL4J's own {@code VoidConfiguration.builder().unicastPort(p)} is lost when the configuration
 * is built (the supplier stays at DL4J's default 49876): the supplier is set on the built object.
 */
final class SharedTrainingPorts implements PortSupplier {

    private static final long serialVersionUID = 1L;
    private static int executorPortInThisJvm = -1;

    private final int driverPort;
    private final int executorPort;

    /** @param driverPort the driver's port, 0 for a free one chosen now (on the driver) */
    SharedTrainingPorts(int driverPort, int executorPort) {
        this.driverPort = driverPort > 0 ? driverPort : freePort("the driver");
        this.executorPort = executorPort;
    }

    @Override
    public int getPort() {
        SparkEnv env = SparkEnv.get();
        // Local mode runs the executors' tasks in the driver JVM, which already serves the mesh.
        if (env == null || "driver".equals(env.executorId())) {
            return driverPort;
        }
        return executorPort > 0 ? executorPort : freePortOfThisJvm();
    }

    private static synchronized int freePortOfThisJvm() {
        if (executorPortInThisJvm < 0) {
            executorPortInThisJvm = freePort("this executor");
        }
        return executorPortInThisJvm;
    }

    private static int freePort(String where) {
        try (DatagramSocket s = new DatagramSocket(0, InetAddress.getByName("0.0.0.0"))) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free UDP port for SharedTraining on " + where, e);
        }
    }

    @Override
    public String toString() {
        return "SharedTrainingPorts(driver " + driverPort + ", executors "
                + (executorPort > 0 ? String.valueOf(executorPort) : "any free port") + ")";
    }
}
