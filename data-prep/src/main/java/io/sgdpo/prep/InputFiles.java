package io.sgdpo.prep;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.io.compress.CompressionCodec;
import org.apache.hadoop.io.compress.CompressionCodecFactory;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.util.HadoopInputFile;
import org.apache.parquet.schema.Type;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Resolves the {@code --input} arguments to files: folders are listed recursively (hidden and
 * {@code _}-prefixed entries skipped, as Hadoop does), each file is checksummed for the manifest and
 * its format detected unless {@code prep.format} fixes it.
 */
public final class InputFiles {

    /** How many lines of a JSONL file format detection may look at before defaulting to PAIRS. */
    private static final int DETECT_LINES = 50;

    private InputFiles() {
    }

    public static List<InputFile> resolve(List<String> inputs, Configuration conf, PrepSettings settings) {
        if (inputs.isEmpty()) {
            throw new PrepException("No input given: pass --input PATH (file or folder, any Hadoop file system)");
        }
        Set<String> seen = new LinkedHashSet<>();
        List<FileStatus> files = new ArrayList<>();
        for (String input : inputs) {
            Path p = new Path(input);
            try {
                FileSystem fs = p.getFileSystem(conf);
                if (!fs.exists(p)) {
                    throw new PrepException("Input path does not exist: " + input);
                }
                FileStatus st = fs.getFileStatus(p);
                List<FileStatus> found = new ArrayList<>();
                if (st.isDirectory()) {
                    RemoteIterator<LocatedFileStatus> it = fs.listFiles(p, true);
                    while (it.hasNext()) {
                        LocatedFileStatus f = it.next();
                        if (isData(f.getPath(), p)) {
                            found.add(f);
                        }
                    }
                    found.sort((a, b) -> a.getPath().toString().compareTo(b.getPath().toString()));
                    if (found.isEmpty()) {
                        throw new PrepException("Input folder holds no .jsonl, .json or .parquet files: " + input);
                    }
                } else {
                    found.add(st);
                }
                for (FileStatus f : found) {
                    if (seen.add(fs.makeQualified(f.getPath()).toString())) {
                        files.add(f);
                    }
                }
            } catch (IOException e) {
                throw new PrepException("Cannot read input path " + input + ": " + e.getMessage(), e);
            }
        }
        List<InputFile> out = new ArrayList<>();
        for (FileStatus f : files) {
            Path path = f.getPath();
            try {
                FileSystem fs = path.getFileSystem(conf);
                String qualified = fs.makeQualified(path).toString();
                boolean parquet = path.getName().toLowerCase(Locale.ROOT).endsWith(".parquet");
                String sha = sha256(fs, path);
                InputFormat format = settings.format() != InputFormat.AUTO ? settings.format()
                        : parquet ? detectParquet(conf, path, settings.parser())
                        : detectJsonl(conf, fs, path, settings.parser());
                out.add(new InputFile(out.size(), qualified, path.getName(), f.getLen(), sha, parquet, format));
            } catch (IOException | RuntimeException e) {
                throw new PrepException("Cannot read input file " + path + ": " + e.getMessage(), e);
            }
        }
        return out;
    }

    private static boolean isData(Path file, Path root) {
        // Skip hidden and underscore entries anywhere below the root (_SUCCESS, .crc, _temporary/).
        for (Path p = file; p != null && !p.equals(root); p = p.getParent()) {
            String n = p.getName();
            if (n.startsWith(".") || n.startsWith("_")) {
                return false;
            }
        }
        String n = file.getName().toLowerCase(Locale.ROOT);
        return n.endsWith(".parquet") || n.matches(".*\\.(jsonl|json|ndjson)(\\.(gz|bz2|deflate|zst|lz4|snappy))?");
    }

    private static String sha256(FileSystem fs, Path path) throws IOException {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            try (InputStream in = new DigestInputStream(fs.open(path), md)) {
                byte[] buf = new byte[1 << 16];
                while (in.read(buf) >= 0) {
                    // reading feeds the digest
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static InputFormat detectJsonl(Configuration conf, FileSystem fs, Path path, RecordParser parser)
            throws IOException {
        CompressionCodec codec = new CompressionCodecFactory(conf).getCodec(path);
        InputStream raw = fs.open(path);
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                codec == null ? raw : codec.createInputStream(raw), StandardCharsets.UTF_8))) {
            String line;
            for (int i = 0; i < DETECT_LINES && (line = r.readLine()) != null; i++) {
                InputFormat f = parser.detect(line);
                if (f != null) {
                    return f;
                }
            }
        }
        return InputFormat.PAIRS;
    }

    private static InputFormat detectParquet(Configuration conf, Path path, RecordParser parser) throws IOException {
        try (ParquetFileReader reader = ParquetFileReader.open(HadoopInputFile.fromPath(path, conf))) {
            List<String> names = new ArrayList<>();
            for (Type t : reader.getFooter().getFileMetaData().getSchema().getFields()) {
                names.add(t.getName());
            }
            return parser.detectColumns(names);
        }
    }
}
