package io.sgdpo.train;

import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The subscription pollers of DL4J's SharedTraining transport (nd4j-parameter-server-node 1.0.0-M2,
 * {@code AeronUdpTransport}): each polls its Aeron subscription in a {@code while (true)} loop with a
 * 1-microsecond sleep, which neither the transport's shutdown nor an interrupt ends. After a
 * SharedTraining run each one goes on burning about a fifth of a core for the rest of the JVM's
 * life, one more per run (a study's runs, a test JVM's classes). Nothing else stops them, so once
 * the parameter server is shut down they are stopped with {@link Thread#stop()}, which Java 17 still
 * carries; on a Java without it they are left running, with a warning.
 */
final class AeronPollers {

    /** The name DL4J's transport gives every thread of its message executor. */
    static final String THREAD_NAME = "MessagesExecutorService thread";
    private static final Logger LOG = LoggerFactory.getLogger(AeronPollers.class);

    private AeronPollers() {
    }

    /** The transport threads alive now. */
    static Set<Thread> running() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> THREAD_NAME.equals(t.getName()))
                .collect(Collectors.toSet());
    }

    /**
     * Stops the transport threads started since {@code before}; call it after the parameter server's
     * shutdown, when they have nothing left to do.
     */
    @SuppressWarnings({"deprecation", "removal"})
    static int stopStartedSince(Set<Thread> before) {
        int stopped = 0;
        for (Thread t : running()) {
            if (before.contains(t)) {
                continue;
            }
            try {
                t.stop();
                t.join(1000);
                stopped++;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return stopped;
            } catch (UnsupportedOperationException e) {
                LOG.warn("cannot stop SharedTraining's transport thread {} on this Java: it keeps polling until the "
                        + "JVM exits", t.getId());
                return stopped;
            }
        }
        return stopped;
    }
}
