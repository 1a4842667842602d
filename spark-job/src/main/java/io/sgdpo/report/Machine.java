package io.sgdpo.report;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.OperatingSystemMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The machine a benchmark or study ran on (cores, CPU model, memory, OS, JVM), described the same
 * way by every report that quotes figures.
 */
public final class Machine {

    private Machine() {
    }

    /** cores, cpu, memoryBytes (when the JVM knows it), os, java, jvm and jvmVendor. */
    public static ObjectNode describe() {
        ObjectNode m = JsonNodeFactory.instance.objectNode();
        m.put("cores", Runtime.getRuntime().availableProcessors());
        m.put("cpu", cpuModel());
        OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            // the container's limit when there is one: what the job could use
            m.put("memoryBytes", sun.getTotalMemorySize());
        }
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch"));
        m.put("java", System.getProperty("java.version"));
        m.put("jvm", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        m.put("jvmVendor", System.getProperty("java.vm.vendor"));
        return m;
    }

    /** One line for a report's header, e.g. "2 cores, Intel(R) Xeon(R) Processor, 8 GiB, Java 17.0.15 (...)". */
    public static String line() {
        ObjectNode m = describe();
        return String.format(Locale.ROOT, "%d cores, %s, %s Java %s (%s), %s", m.path("cores").asInt(),
                m.path("cpu").asText(), m.has("memoryBytes") ? String.format(Locale.ROOT, "%.0f GiB,",
                        m.path("memoryBytes").asDouble() / (1L << 30)) : "", m.path("java").asText(),
                m.path("jvmVendor").asText(), m.path("os").asText());
    }

    /** The CPU model from /proc/cpuinfo, else what the environment says, else "unknown (arch)". */
    public static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException e) {
            // not Linux: fall through to what the environment knows
        }
        String env = System.getenv("PROCESSOR_IDENTIFIER");
        return env != null ? env : "unknown (" + System.getProperty("os.arch") + ")";
    }
}
