package io.sgdpo.prep;

import io.sgdpo.config.ConfigurationException;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Resolves the {@code --input} and {@code --eval-input} arguments to files: folders are listed
 * recursively (hidden and {@code _}-prefixed entries skipped, as Hadoop does), each file is
 * checksummed for the manifest and its format detected unless {@code prep.format} fixes it.
 */
public final class InputFiles {

    /** How many lines of a JSONL file format detection may look at before defaulting to PAIRS. */
    private static final int DETECT_LINES = 50;

    private InputFiles() {
    }

    /** Resolves ordinary inputs only (no eval inputs); see {@link #resolve(List, List, Configuration, PrepSettings)}. */
    public static List<InputFile> resolve(List<String> inputs, Configuration conf, PrepSettings settings) {
        return resolve(inputs, List.of(), conf, settings);
    }

    /**
     * Resolves the ordinary inputs, then the eval inputs, to files indexed in that order. A file
     * named twice within one list is read once; a file reached from both lists is an error naming it,
     * since its pairs cannot be both hash-split and wholly eval.
     *
     * @param inputs     {@code --input} paths: files or folders, any Hadoop URI; at least one
     * @param evalInputs {@code --eval-input} paths: files or folders whose pairs all go to the eval split
     * @throws PrepException          when a path is missing or unreadable, or no input is given
     * @throws ConfigurationException when a file is reached from both lists
     */
    public static List<InputFile> resolve(List<String> inputs, List<String> evalInputs, Configuration conf,
                                          PrepSettings settings) {
        if (inputs.isEmpty()) {
            throw new PrepException("No input given: pass --input PATH (file or folder, any Hadoop file system)");
        }
        Map<String, String> ordinary = list(inputs, conf);
        Map<String, String> eval = list(evalInputs, conf);
        for (Map.Entry<String, String> e : eval.entrySet()) {
            String asInput = ordinary.get(e.getKey());
            if (asInput != null) {
                throw new ConfigurationException("Input file " + e.getKey() + " is given both as --input (" + asInput
                        + ") and as --eval-input (" + e.getValue() + "): a file's pairs are either split by hash"
                        + " (--input) or all eval (--eval-input); name it in one list only");
            }
        }
        List<InputFile> out = new ArrayList<>();
        for (String qualified : ordinary.keySet()) {
            out.add(describe(qualified, out.size(), false, conf, settings));
        }
        for (String qualified : eval.keySet()) {
            out.add(describe(qualified, out.size(), true, conf, settings));
        }
        return out;
    }

    /** Qualified path of every data file under the given paths, in order, mapped to the path that named it. */
    private static Map<String, String> list(List<String> inputs, Configuration conf) {
        Map<String, String> files = new LinkedHashMap<>();
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
                    files.putIfAbsent(fs.makeQualified(f.getPath()).toString(), input);
                }
            } catch (IOException e) {
                throw new PrepException("Cannot read input path " + input + ": " + e.getMessage(), e);
            }
        }
        return files;
    }

    private static InputFile describe(String qualified, int index, boolean evalInput, Configuration conf,
                                      PrepSettings settings) {
        Path path = new Path(qualified);
        try {
            FileSystem fs = path.getFileSystem(conf);
            FileStatus st = fs.getFileStatus(path);
            boolean parquet = path.getName().toLowerCase(Locale.ROOT).endsWith(".parquet");
            String sha = sha256(fs, path);
            InputFormat format = settings.format() != InputFormat.AUTO ? settings.format()
                    : parquet ? detectParquet(conf, path, settings.parser())
                    : detectJsonl(conf, fs, path, settings.parser());
            return new InputFile(index, qualified, path.getName(), st.getLen(), sha, parquet, format, evalInput);
        } catch (IOException | RuntimeException e) {
            throw new PrepException("Cannot read input file " + path + ": " + e.getMessage(), e);
        }
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
