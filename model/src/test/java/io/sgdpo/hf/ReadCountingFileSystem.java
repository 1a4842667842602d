package io.sgdpo.hf;

import java.io.FilterInputStream;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FilterFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.PositionedReadable;
import org.apache.hadoop.fs.Seekable;

/** A file system that counts the bytes read from each file, to prove what an import did not read. */
final class ReadCountingFileSystem extends FilterFileSystem {

    private final Map<String, Long> bytesRead = new HashMap<>();

    ReadCountingFileSystem(FileSystem fs) {
        super(fs);
    }

    /** Bytes read so far from files of this name. */
    synchronized long bytesRead(String name) {
        return bytesRead.getOrDefault(name, 0L);
    }

    private synchronized void count(String name, long n) {
        if (n > 0) {
            bytesRead.merge(name, n, Long::sum);
        }
    }

    @Override
    public FSDataInputStream open(Path f, int bufferSize) throws IOException {
        FSDataInputStream in = super.open(f, bufferSize);
        String name = f.getName();
        return new FSDataInputStream(new Counting(in, name));
    }

    private final class Counting extends FilterInputStream implements Seekable, PositionedReadable {
        private final FSDataInputStream in;
        private final String name;

        Counting(FSDataInputStream in, String name) {
            super(in);
            this.in = in;
            this.name = name;
        }

        @Override
        public int read() throws IOException {
            int b = in.read();
            count(name, b < 0 ? 0 : 1);
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = in.read(b, off, len);
            count(name, n);
            return n;
        }

        @Override
        public void seek(long pos) throws IOException {
            in.seek(pos);
        }

        @Override
        public long getPos() throws IOException {
            return in.getPos();
        }

        @Override
        public boolean seekToNewSource(long targetPos) throws IOException {
            return in.seekToNewSource(targetPos);
        }

        @Override
        public int read(long position, byte[] buffer, int offset, int length) throws IOException {
            int n = in.read(position, buffer, offset, length);
            count(name, n);
            return n;
        }

        @Override
        public void readFully(long position, byte[] buffer, int offset, int length) throws IOException {
            in.readFully(position, buffer, offset, length);
            count(name, length);
        }

        @Override
        public void readFully(long position, byte[] buffer) throws IOException {
            readFully(position, buffer, 0, buffer.length);
        }
    }
}
