package io.sgdpo.train;

import java.io.File;
import java.io.IOException;
import java.util.Set;
import org.apache.commons.io.FileUtils;

/**
 * SharedTraining's embedded Aeron media driver leaves its files in /dev/shm after the JVM's Spark
 * context stops: a test takes a snapshot before and removes what appeared since.
 */
final class AeronFiles {

    private static final File SHM = new File("/dev/shm");

    private AeronFiles() {
    }

    static Set<String> snapshot() {
        String[] names = SHM.list((d, n) -> n.startsWith("aeron-"));
        return names == null ? Set.of() : Set.of(names);
    }

    static void removeAllBut(Set<String> before) throws IOException {
        for (String dir : snapshot()) {
            if (!before.contains(dir)) {
                FileUtils.deleteDirectory(new File(SHM, dir));
            }
        }
    }
}
