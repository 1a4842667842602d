package io.sgdpo.train;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.commons.io.FileUtils;

/**
 * SharedTraining's embedded Aeron media driver leaves its folder in /dev/shm after it stops: a test
 * takes a snapshot before and removes what appeared since, except folders that a live process still
 * maps (another test JVM's driver, running beside this one).
 */
final class AeronFiles {

    private static final File SHM = new File("/dev/shm");
    private static final String PREFIX = "aeron-";

    private AeronFiles() {
    }

    static Set<String> snapshot() {
        String[] names = SHM.list((d, n) -> n.startsWith(PREFIX));
        return names == null ? Set.of() : Set.of(names);
    }

    static void removeAllBut(Set<String> before) throws IOException {
        Set<String> inUse = mappedByAnyProcess();
        for (String dir : snapshot()) {
            if (!before.contains(dir) && !inUse.contains(dir)) {
                FileUtils.deleteDirectory(new File(SHM, dir));
            }
        }
    }

    /** The /dev/shm/aeron-* folders whose files some live process has mapped (from /proc/PID/maps). */
    private static Set<String> mappedByAnyProcess() throws IOException {
        Set<String> out = new HashSet<>();
        String marker = SHM.getPath() + "/" + PREFIX;
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path proc : (Iterable<Path>) procs.filter(p -> p.getFileName().toString().matches("\\d+"))::iterator) {
                try (Stream<String> lines = Files.lines(proc.resolve("maps"))) {
                    lines.map(l -> l.indexOf(marker) < 0 ? null : l.substring(l.indexOf(marker) + SHM.getPath().length()
                            + 1)).filter(java.util.Objects::nonNull).forEach(rest -> {
                                int slash = rest.indexOf('/');
                                out.add(slash < 0 ? rest : rest.substring(0, slash));
                            });
                } catch (IOException | java.io.UncheckedIOException e) {
                    // the process ended, or is not ours to read
                }
            }
        }
        return out;
    }
}
