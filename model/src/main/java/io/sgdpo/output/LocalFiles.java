package io.sgdpo.output;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsAction;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.io.nativeio.NativeIO;

/**
 * Hadoop's local file system ({@code file:}) with permissions set through {@code java.nio} instead of
 * a {@code chmod} process. Without Hadoop's native library (libhadoop, which no Maven artifact
 * carries) {@link RawLocalFileSystem} starts {@code chmod} for every file and folder it creates, and
 * the checksummed {@link LocalFileSystem} creates two files per file (the data and its {@code .crc}):
 * on the development machine a {@code train.jsonl} row appended cost 22 ms, almost all of it four
 * processes started. Everything else, the checksums included, is Hadoop's own. Permissions java.nio
 * cannot set (the sticky bit), or a file store without POSIX permissions, go through Hadoop's own
 * code, as does everything when the native library is loaded. The product's Spark sessions use it
 * for {@code file:} paths ({@link #SPARK_KEY}), unless their configuration names another class.
 */
public final class LocalFiles extends LocalFileSystem {

    /** Hadoop's key for the class of {@code file:} paths. */
    public static final String KEY = "fs.file.impl";
    /** The same in a Spark configuration, which hands {@code spark.hadoop.*} to Hadoop. */
    public static final String SPARK_KEY = "spark.hadoop." + KEY;

    public LocalFiles() {
        super(new PosixPermissions());
    }

    /** The raw local file system, its {@link #setPermission} through {@code java.nio}. */
    static final class PosixPermissions extends RawLocalFileSystem {
        @Override
        public void setPermission(Path p, FsPermission permission) throws IOException {
            Set<PosixFilePermission> posix = posix(permission);
            if (posix == null || NativeIO.isAvailable()) {
                super.setPermission(p, permission);
                return;
            }
            try {
                Files.setPosixFilePermissions(pathToFile(p).toPath(), posix);
            } catch (UnsupportedOperationException notPosix) {
                super.setPermission(p, permission);
            }
        }
    }

    /** The permission as java.nio's, or null when it has bits java.nio cannot set (the sticky bit). */
    static Set<PosixFilePermission> posix(FsPermission permission) {
        if (permission.getStickyBit()) {
            return null;
        }
        Set<PosixFilePermission> out = EnumSet.noneOf(PosixFilePermission.class);
        add(out, permission.getUserAction(), PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_EXECUTE);
        add(out, permission.getGroupAction(), PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.GROUP_EXECUTE);
        add(out, permission.getOtherAction(), PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
                PosixFilePermission.OTHERS_EXECUTE);
        return out;
    }

    private static void add(Set<PosixFilePermission> out, FsAction action, PosixFilePermission read,
                            PosixFilePermission write, PosixFilePermission execute) {
        if (action.implies(FsAction.READ)) {
            out.add(read);
        }
        if (action.implies(FsAction.WRITE)) {
            out.add(write);
        }
        if (action.implies(FsAction.EXECUTE)) {
            out.add(execute);
        }
    }
}
