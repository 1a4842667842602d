package io.sgdpo.bench.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Resident memory of this process as the kernel counts it: Java heap, ND4J's off-heap buffers,
 * native libraries and thread stacks together ({@code /proc/self/status}). The Java heap figures
 * alone would miss most of what ND4J allocates.
 */
public final class ProcessMemory {

    private ProcessMemory() {
    }

    /** Peak resident set size (VmHWM) in bytes, or -1 where /proc is unavailable. */
    public static long peakResidentBytes() {
        return read("VmHWM");
    }

    /** Current resident set size (VmRSS) in bytes, or -1 where /proc is unavailable. */
    public static long residentBytes() {
        return read("VmRSS");
    }

    private static long read(String field) {
        try {
            return parse(Files.readAllLines(Path.of("/proc/self/status")), field);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The value of a {@code Field:   123 kB} line of /proc/PID/status, in bytes; -1 when absent. */
    static long parse(List<String> status, String field) {
        for (String line : status) {
            if (line.startsWith(field + ":")) {
                String[] parts = line.substring(field.length() + 1).trim().split("\\s+");
                long value = Long.parseLong(parts[0]);
                if (parts.length > 1) {
                    switch (parts[1].toLowerCase(java.util.Locale.ROOT)) {
                        case "kb" -> value *= 1024;
                        case "mb" -> value *= 1024 * 1024;
                        case "gb" -> value *= 1024L * 1024 * 1024;
                        default -> throw new IllegalArgumentException("unknown unit in '" + line + "'");
                    }
                }
                return value;
            }
        }
        return -1;
    }
}
