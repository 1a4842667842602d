package io.sgdpo.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The safetensors format, read and written by hand: no maintained Java library for it exists on
 * Maven Central (the reference implementation is Rust with Python bindings). The format is small:
 * <pre>
 *   8 bytes     N, the header length, unsigned little-endian
 *   N bytes     a JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]}, plus an
 *               optional "__metadata__" of strings; offsets are relative to the end of the header
 *   rest        the tensors' raw little-endian bytes, row-major
 * </pre>
 * The reader is as strict as the reference implementation: the tensors must cover the data
 * section exactly, back to back, without gaps or overlaps. Every fault is a {@link HfFormatException}
 * naming the file and the fault, raised before any tensor is handed out. F32, F16 and BF16 tensors
 * are read as float32; the writer writes F32 or BF16 (rounded to nearest even).
 */
public final class SafeTensors {

    /** The reference implementation's limit on the header (100 MB): anything larger is not a header. */
    static final long MAX_HEADER = 100L * 1024 * 1024;
    private static final String METADATA = "__metadata__";
    private static final int CHUNK = 1 << 20; // elements converted at a time
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
    /** Every dtype the format defines; only some of them are read ({@link DType}). */
    private static final Set<String> KNOWN = Set.of("BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
            "BF16", "I32", "U32", "F32", "F64", "I64", "U64");

    private SafeTensors() {
    }

    /** The element types this reader converts to float32. */
    public enum DType {
        F32(4), F16(2), BF16(2);

        private final int size;

        DType(int size) {
            this.size = size;
        }

        /** Bytes per element. */
        public int size() {
            return size;
        }
    }

    /**
     * One tensor of a file.
     *
     * @param name  its name
     * @param dtype element type
     * @param shape its shape
     * @param begin first byte, relative to the end of the header
     * @param end   one past its last byte, relative to the end of the header
     */
    public record Tensor(String name, DType dtype, long[] shape, long begin, long end) {

        public Tensor {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Number of elements. */
        public long length() {
            return (end - begin) / dtype.size();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Tensor t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                    && begin == t.begin && end == t.end;
        }

        @Override
        public int hashCode() {
            return name.hashCode();
        }
    }

    /**
     * The validated header of a file.
     *
     * @param file       the file
     * @param headerSize N, the JSON header's length in bytes
     * @param tensors    by name, in the order of their data
     * @param metadata   the {@code __metadata__} strings (empty when absent)
     */
    public record Header(Path file, long headerSize, Map<String, Tensor> tensors, Map<String, String> metadata) {

        /** Where the data section starts in the file. */
        public long dataStart() {
            return 8 + headerSize;
        }
    }

    /** Receives the values of one tensor, in chunks, in row-major order. */
    @FunctionalInterface
    public interface Sink {
        /**
         * @param tensor the tensor
         * @param offset index of the chunk's first element within the tensor
         * @param values the chunk's values (only the first {@code count} are valid)
         * @param count  number of values in the chunk
         */
        void accept(Tensor tensor, long offset, float[] values, int count) throws IOException;
    }

    /**
     * Reads and validates the header of a file against the file's length.
     *
     * @throws HfFormatException naming the file and the fault: truncated, absurd header length, bad
     *                           JSON, unknown or unsupported dtype, size not matching shape,
     *                           offsets past the end, overlapping, leaving gaps or trailing bytes
     */
    public static Header readHeader(FileSystem fs, Path file) throws IOException {
        long fileLength = fs.getFileStatus(file).getLen();
        if (fileLength < 8) {
            throw new HfFormatException(file + ": truncated safetensors file of " + fileLength
                    + " bytes (shorter than its 8-byte header length)");
        }
        try (DataInputStream in = new DataInputStream(fs.open(file))) {
            byte[] lengthBytes = new byte[8];
            in.readFully(lengthBytes);
            long n = ByteBuffer.wrap(lengthBytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n < 2 || n > MAX_HEADER) {
                throw new HfFormatException(file + ": absurd safetensors header length " + Long.toUnsignedString(n)
                        + " (at most " + MAX_HEADER + " bytes): not a safetensors file, or a corrupt one");
            }
            if (8 + n > fileLength) {
                throw new HfFormatException(file + ": truncated safetensors file: its header needs " + (8 + n)
                        + " bytes but the file has " + fileLength);
            }
            byte[] json = new byte[(int) n];
            in.readFully(json);
            return parseHeader(file, n, json, fileLength - 8 - n);
        }
    }

    private static Header parseHeader(Path file, long n, byte[] json, long dataLength) throws HfFormatException {
        JsonNode root;
        try {
            root = JSON.readTree(new String(json, StandardCharsets.UTF_8).trim());
        } catch (JsonProcessingException e) {
            throw new HfFormatException(file + ": safetensors header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new HfFormatException(file + ": safetensors header is not a JSON object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Tensor> tensors = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals(METADATA)) {
                if (!e.getValue().isObject()) {
                    throw new HfFormatException(file + ": safetensors " + METADATA + " is not a JSON object");
                }
                e.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
            } else {
                tensors.add(tensor(file, e.getKey(), e.getValue()));
            }
        }
        tensors.sort(Comparator.comparingLong(Tensor::begin).thenComparingLong(Tensor::end));
        long position = 0;
        for (Tensor t : tensors) {
            if (t.end() > dataLength) {
                throw new HfFormatException(file + ": tensor '" + t.name() + "' has data_offsets [" + t.begin() + ", "
                        + t.end() + "] past the end of the data (" + dataLength + " bytes after the header):"
                        + " truncated file or offsets past the end");
            }
            if (t.begin() < position) {
                throw new HfFormatException(file + ": tensor '" + t.name() + "' has data_offsets [" + t.begin() + ", "
                        + t.end() + "] overlapping the tensor before it (which ends at " + position + ")");
            }
            if (t.begin() > position) {
                throw new HfFormatException(file + ": tensor '" + t.name() + "' starts at " + t.begin()
                        + " but the tensor before it ends at " + position + ": a gap in the data section");
            }
            position = t.end();
        }
        if (position != dataLength) {
            throw new HfFormatException(file + ": " + (dataLength - position) + " bytes after the last tensor"
                    + " (the data section is " + dataLength + " bytes, the tensors cover " + position + ")");
        }
        Map<String, Tensor> byName = new LinkedHashMap<>();
        for (Tensor t : tensors) {
            byName.put(t.name(), t);
        }
        return new Header(file, n, Collections.unmodifiableMap(byName), Collections.unmodifiableMap(metadata));
    }

    private static Tensor tensor(Path file, String name, JsonNode node) throws HfFormatException {
        String where = file + ": tensor '" + name + "'";
        if (!node.isObject() || !node.path("dtype").isTextual() || !node.path("shape").isArray()
                || !node.path("data_offsets").isArray() || node.path("data_offsets").size() != 2) {
            throw new HfFormatException(where + " needs \"dtype\", \"shape\" and two \"data_offsets\", got " + node);
        }
        String dtypeName = node.get("dtype").asText();
        if (!KNOWN.contains(dtypeName)) {
            throw new HfFormatException(where + " has unknown dtype '" + dtypeName + "'");
        }
        DType dtype;
        try {
            dtype = DType.valueOf(dtypeName);
        } catch (IllegalArgumentException e) {
            throw new HfFormatException(where + " has dtype " + dtypeName + ", which this reader does not convert"
                    + " (F32, F16 and BF16 only)");
        }
        long[] shape = new long[node.get("shape").size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode s = node.get("shape").get(i);
            if (!s.canConvertToLong() || s.asLong() < 0) {
                throw new HfFormatException(where + " has a bad shape " + node.get("shape"));
            }
            shape[i] = s.asLong();
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException e) {
                throw new HfFormatException(where + " has an absurd shape " + node.get("shape"));
            }
        }
        JsonNode offsets = node.get("data_offsets");
        if (!offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong() || offsets.get(0).asLong() < 0
                || offsets.get(1).asLong() < offsets.get(0).asLong()) {
            throw new HfFormatException(where + " has bad data_offsets " + offsets);
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (elements > Long.MAX_VALUE / 8 || end - begin != elements * dtype.size()) {
            throw new HfFormatException(where + ": data_offsets [" + begin + ", " + end + "] hold " + (end - begin)
                    + " bytes but " + dtypeName + " " + Arrays.toString(shape) + " needs " + elements * dtype.size());
        }
        return new Tensor(name, dtype, shape, begin, end);
    }

    /**
     * Streams the whole file once, from its first byte to its last (so that {@code digest}, when
     * given, sees exactly the file), handing each tensor's values, converted to float32, to
     * {@code sink}. The header must be {@link #readHeader}'s of the same file.
     */
    public static void readData(FileSystem fs, Header header, java.security.MessageDigest digest, Sink sink)
            throws IOException {
        InputStream raw = fs.open(header.file());
        try (DataInputStream in = new DataInputStream(digest == null ? raw
                : new java.security.DigestInputStream(raw, digest))) {
            in.readFully(new byte[(int) header.dataStart()]);
            byte[] bytes = new byte[CHUNK * 4];
            float[] values = new float[CHUNK];
            for (Tensor t : header.tensors().values()) {
                long total = t.length();
                for (long done = 0; done < total; ) {
                    int count = (int) Math.min(CHUNK, total - done);
                    int size = count * t.dtype().size();
                    try {
                        in.readFully(bytes, 0, size);
                    } catch (EOFException e) {
                        throw new HfFormatException(header.file() + ": truncated while reading tensor '" + t.name()
                                + "' (the file changed since its header was read?)");
                    }
                    decode(t.dtype(), bytes, values, count);
                    sink.accept(t, done, values, count);
                    done += count;
                }
            }
            if (in.read() >= 0) {
                throw new HfFormatException(header.file() + ": bytes after the last tensor (the file changed since"
                        + " its header was read?)");
            }
        }
    }

    static void decode(DType dtype, byte[] bytes, float[] values, int count) {
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype) {
            case F32 -> buffer.asFloatBuffer().get(values, 0, count);
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    values[i] = Float.intBitsToFloat((buffer.getShort(2 * i) & 0xffff) << 16);
                }
            }
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    values[i] = halfToFloat(buffer.getShort(2 * i) & 0xffff);
                }
            }
            default -> throw new IllegalStateException(dtype.toString());
        }
    }

    /** IEEE 754 binary16 to float32, exactly (Java 17 has no Float.float16ToFloat). */
    static float halfToFloat(int half) {
        int sign = (half >>> 15) << 31;
        int exponent = (half >>> 10) & 0x1f;
        int mantissa = half & 0x3ff;
        if (exponent == 0x1f) { // infinity or NaN
            return Float.intBitsToFloat(sign | 0x7f800000 | (mantissa << 13));
        }
        if (exponent == 0) { // zero or subnormal: mantissa * 2^-24
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
    }

    /** float32 to bfloat16 bits, rounded to nearest, ties to even (NaN stays a quiet NaN). */
    static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int roundingBias = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /** Supplies the values of one tensor to write, in row-major order. */
    @FunctionalInterface
    public interface Source {
        /** Fills {@code values[0, count)} with the elements starting at {@code offset}. */
        void read(long offset, float[] values, int count);
    }

    /**
     * A tensor to write.
     *
     * @param name   its name
     * @param shape  its shape
     * @param source its values
     */
    public record Output(String name, long[] shape, Source source) {

        long length() {
            long n = 1;
            for (long s : shape) {
                n *= s;
            }
            return n;
        }
    }

    /**
     * Writes a safetensors file: the tensors in the given order, back to back, in {@code dtype}
     * (F32 or BF16), with {@code "__metadata__": {"format": "pt"}} as transformers writes it. The
     * header is padded with spaces to a multiple of 8 bytes, as the reference implementation does.
     */
    public static void write(OutputStream out, List<Output> tensors, DType dtype) throws IOException {
        if (dtype == DType.F16) {
            throw new IllegalArgumentException("writing F16 is not supported (F32 or BF16)");
        }
        ObjectNode header = JSON.createObjectNode();
        header.putObject(METADATA).put("format", "pt");
        long offset = 0;
        for (Output t : tensors) {
            ObjectNode node = header.putObject(t.name());
            node.put("dtype", dtype.name());
            ArrayNode shape = node.putArray("shape");
            for (long s : t.shape()) {
                shape.add(s);
            }
            long end = offset + t.length() * dtype.size();
            node.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 8 + 7) / 8 * 8 - 8;
        byte[] headerBytes = Arrays.copyOf(json, padded);
        Arrays.fill(headerBytes, json.length, padded, (byte) ' ');
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).array());
        out.write(headerBytes);
        float[] values = new float[CHUNK];
        ByteBuffer bytes = ByteBuffer.allocate(CHUNK * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (Output t : tensors) {
            long total = t.length();
            for (long done = 0; done < total; ) {
                int count = (int) Math.min(CHUNK, total - done);
                t.source().read(done, values, count);
                bytes.clear();
                for (int i = 0; i < count; i++) {
                    if (dtype == DType.F32) {
                        bytes.putFloat(values[i]);
                    } else {
                        bytes.putShort(floatToBf16(values[i]));
                    }
                }
                out.write(bytes.array(), 0, bytes.position());
                done += count;
            }
        }
    }
}
