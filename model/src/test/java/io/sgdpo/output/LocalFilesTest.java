package io.sgdpo.output;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.ChecksumException;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.io.nativeio.NativeIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LocalFiles} leaves on disk what Hadoop's own local file system leaves (data, checksums,
 * permissions), without starting a process.
 */
class LocalFilesTest {

    @TempDir
    java.nio.file.Path dir;

    @Test
    void theSameFilesChecksumsAndPermissionsAsHadoopsOwnWithoutStartingAProcess() throws Exception {
        LocalFileSystem hadoops = new LocalFileSystem();
        hadoops.initialize(java.net.URI.create("file:///"), new Configuration());
        LocalFileSystem ours = new LocalFiles();
        ours.initialize(java.net.URI.create("file:///"), new Configuration());

        List<String> hadoopsProcesses = processesStartedBy(() -> writeTree(hadoops, "hadoop"));
        List<String> ourProcesses = processesStartedBy(() -> writeTree(ours, "ours"));

        assertEquals(List.of(), ourProcesses, "processes started through LocalFiles");
        if (!NativeIO.isAvailable()) {
            // what this replaces: Hadoop's own starts chmod for every file and folder
            assertTrue(hadoopsProcesses.stream().anyMatch(c -> c.contains("chmod")), hadoopsProcesses.toString());
        }
        for (String file : List.of("a/b/data.txt", "a/b/.data.txt.crc", "a/b/set.txt", "a/b/.set.txt.crc", "a/b",
                "a", "a/folder", "a/created.txt")) {
            assertEquals(permissions(dir.resolve("hadoop/" + file)), permissions(dir.resolve("ours/" + file)), file);
        }
        assertEquals("rwxr-x---", PosixFilePermissions.toString(permissions(dir.resolve("ours/a/folder"))));
        assertEquals("rw----r--", PosixFilePermissions.toString(permissions(dir.resolve("ours/a/b/set.txt"))));
        assertEquals("rw-r-----", PosixFilePermissions.toString(permissions(dir.resolve("ours/a/created.txt"))));

        // java.nio cannot set the sticky bit: Hadoop's own code does
        for (String root : List.of("hadoop", "ours")) {
            FileSystem fs = root.equals("ours") ? ours : hadoops;
            Path sticky = new Path(dir.resolve(root + "/sticky").toUri());
            fs.mkdirs(sticky);
            fs.setPermission(sticky, new FsPermission((short) 01777));
            assertEquals(01777, (int) Files.getAttribute(dir.resolve(root + "/sticky"), "unix:mode") & 07777, root);
        }

        // the checksums are Hadoop's: a changed byte is caught on reading
        Path data = new Path(dir.resolve("ours/a/b/data.txt").toUri());
        try (FSDataInputStream in = ours.open(data)) {
            assertEquals("preference pairs", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        Files.writeString(dir.resolve("ours/a/b/data.txt"), "preference pairZ");
        assertThrows(ChecksumException.class, () -> {
            try (FSDataInputStream in = ours.open(data)) {
                in.readAllBytes();
            }
        });
    }

    @Test
    void everyPermissionWithoutTheStickyBitMapsToJavaNiosOwn() {
        for (short mode = 0; mode < 01000; mode++) {
            FsPermission p = new FsPermission(mode);
            assertEquals(PosixFilePermissions.fromString(p.toString()), LocalFiles.posix(p), p.toString());
        }
        assertNull(LocalFiles.posix(new FsPermission((short) 01777)), "the sticky bit goes through Hadoop's own");
    }

    /** Files and folders as the jobs make them: created with the defaults, with a mode, changed. */
    private void writeTree(FileSystem fs, String root) throws IOException {
        Path base = new Path(dir.resolve(root).toUri());
        try (FSDataOutputStream out = fs.create(new Path(base, "a/b/data.txt"), true)) {
            out.write("preference pairs".getBytes(StandardCharsets.UTF_8));
        }
        try (FSDataOutputStream out = fs.create(new Path(base, "a/b/set.txt"), true)) {
            out.write(1);
        }
        fs.setPermission(new Path(base, "a/b/set.txt"), new FsPermission((short) 0604));
        fs.mkdirs(new Path(base, "a/folder"), new FsPermission((short) 0750));
        try (FSDataOutputStream out = fs.create(new Path(base, "a/created.txt"), new FsPermission((short) 0640),
                true, 4096, (short) 1, 1 << 20, null)) {
            out.write(2);
        }
    }

    private interface Work {
        void run() throws IOException;
    }

    /** The command lines of the processes this JVM started while {@code work} ran (JFR's own record). */
    private List<String> processesStartedBy(Work work) throws Exception {
        java.nio.file.Path jfr = dir.resolve("processes-" + System.nanoTime() + ".jfr");
        try (Recording recording = new Recording()) {
            recording.enable("jdk.ProcessStart");
            recording.start();
            work.run();
            recording.stop();
            recording.dump(jfr);
        }
        List<String> out = new ArrayList<>();
        for (RecordedEvent e : RecordingFile.readAllEvents(jfr)) {
            out.add(e.getString("command"));
        }
        return out;
    }

    private static Set<PosixFilePermission> permissions(java.nio.file.Path p) throws IOException {
        return Files.getPosixFilePermissions(p);
    }
}
