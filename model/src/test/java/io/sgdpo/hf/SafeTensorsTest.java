package io.sgdpo.hf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The hand-written safetensors reader and writer: values, layout, and every malformed file refused. */
class SafeTensorsTest {

    @TempDir
    File dir;

    /** Writes a file with the given JSON header (unpadded) and data bytes. */
    private Path file(String name, String header, byte[] data) throws IOException {
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(json.length).put(json).put(data);
        File f = new File(dir, name);
        Files.write(f.toPath(), b.array());
        return new Path(f.toURI().toString());
    }

    private static byte[] floats(float... values) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return b.array();
    }

    private static List<float[]> readAll(Path file) throws IOException {
        SafeTensors.Header h = SafeTensors.readHeader(Fixtures.local(), file);
        List<float[]> out = new ArrayList<>();
        SafeTensors.readData(Fixtures.local(), h, null, (t, offset, values, count) -> {
            if (offset == 0) {
                out.add(new float[(int) t.length()]);
            }
            System.arraycopy(values, 0, out.get(out.size() - 1), (int) offset, count);
        });
        return out;
    }

    @Test
    void readsF32F16AndBf16AsFloat32() throws IOException {
        ByteBuffer data = ByteBuffer.allocate(8 + 8 + 4).order(ByteOrder.LITTLE_ENDIAN);
        data.putFloat(1.5f).putFloat(-2.25f);
        data.putShort((short) 0x3c00).putShort((short) 0xc000).putShort((short) 0x7bff).putShort((short) 0x0001);
        data.putShort((short) 0x3fc0).putShort((short) 0xc2f7); // bf16 1.5, -123.5
        Path f = file("mixed.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[8,16]},"
                + "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[16,20]}}", data.array());
        List<float[]> values = readAll(f);
        assertArrayEquals(new float[] {1.5f, -2.25f}, values.get(0));
        assertArrayEquals(new float[] {1f, -2f, 65504f, 0x1p-24f}, values.get(1)); // largest half, smallest subnormal
        assertArrayEquals(new float[] {1.5f, -123.5f}, values.get(2));
    }

    @Test
    void halfPrecisionSpecialValuesConvertExactly() {
        assertEquals(Float.POSITIVE_INFINITY, SafeTensors.halfToFloat(0x7c00));
        assertEquals(Float.NEGATIVE_INFINITY, SafeTensors.halfToFloat(0xfc00));
        assertTrue(Float.isNaN(SafeTensors.halfToFloat(0x7e00)));
        assertEquals(-0.0f, SafeTensors.halfToFloat(0x8000));
        assertEquals(1.0f / (1 << 14), SafeTensors.halfToFloat(0x0400)); // smallest normal
        assertEquals(0x3ffp-24f, SafeTensors.halfToFloat(0x03ff)); // largest subnormal
    }

    /** Round to nearest even, exactly at and around the halfway points. */
    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3f80, SafeTensors.floatToBf16(Float.intBitsToFloat(0x3f808000))); // tie, even below
        assertEquals((short) 0x3f82, SafeTensors.floatToBf16(Float.intBitsToFloat(0x3f818000))); // tie, even above
        assertEquals((short) 0x3f81, SafeTensors.floatToBf16(Float.intBitsToFloat(0x3f808001))); // above the tie
        assertEquals((short) 0x3f80, SafeTensors.floatToBf16(Float.intBitsToFloat(0x3f807fff))); // below the tie
        assertEquals((short) 0x7f80, SafeTensors.floatToBf16(Float.MAX_VALUE)); // rounds up to infinity
        assertEquals((short) 0xff80, SafeTensors.floatToBf16(Float.NEGATIVE_INFINITY));
        assertTrue(Float.isNaN(Float.intBitsToFloat(SafeTensors.floatToBf16(Float.NaN) << 16)));
    }

    /** What the writer writes, the reader reads: F32 bit for bit, BF16 as the rounding says. */
    @Test
    void writtenFilesReadBack() throws IOException {
        float[] a = {0.1f, -3e-5f, 12345.678f, Float.MIN_VALUE, -0.0f, 7f};
        float[] b = {1f, 2f, 3f};
        for (SafeTensors.DType dtype : List.of(SafeTensors.DType.F32, SafeTensors.DType.BF16)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            SafeTensors.write(out, List.of(
                    new SafeTensors.Output("x.weight", new long[] {2, 3}, (o, v, n) -> System.arraycopy(a, (int) o, v, 0, n)),
                    new SafeTensors.Output("y", new long[] {3}, (o, v, n) -> System.arraycopy(b, (int) o, v, 0, n))),
                    dtype);
            byte[] bytes = out.toByteArray();
            long headerLength = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
            assertEquals(0, (8 + headerLength) % 8, "header padded to 8 bytes");
            File f = new File(dir, dtype + ".safetensors");
            Files.write(f.toPath(), bytes);
            SafeTensors.Header h = SafeTensors.readHeader(Fixtures.local(), new Path(f.toURI().toString()));
            assertEquals("pt", h.metadata().get("format"));
            assertArrayEquals(new long[] {2, 3}, h.tensors().get("x.weight").shape());
            List<float[]> back = readAll(h.file());
            for (int i = 0; i < a.length; i++) {
                float expected = dtype == SafeTensors.DType.F32 ? a[i]
                        : Float.intBitsToFloat(SafeTensors.floatToBf16(a[i]) << 16);
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(back.get(0)[i]), "element " + i);
            }
            assertArrayEquals(b, back.get(1));
        }
    }

    private void assertRefused(Path f, String fault) {
        HfFormatException e = assertThrows(HfFormatException.class, () -> SafeTensors.readHeader(Fixtures.local(), f));
        assertTrue(e.getMessage().contains(f.getName()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fault), "names the fault '" + fault + "': " + e.getMessage());
    }

    @Test
    void truncatedFileIsRefused() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        assertRefused(file("short.safetensors", header, floats(1, 2, 3)), "truncated");
        File tiny = new File(dir, "tiny.safetensors");
        Files.write(tiny.toPath(), new byte[] {1, 0, 0});
        assertRefused(new Path(tiny.toURI().toString()), "truncated");
        // a header length that points past the end of the file
        File cut = new File(dir, "cut.safetensors");
        Files.write(cut.toPath(), ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN).putLong(500).array());
        assertRefused(new Path(cut.toURI().toString()), "truncated");
    }

    @Test
    void absurdHeaderLengthIsRefused() throws IOException {
        File f = new File(dir, "absurd.safetensors");
        Files.write(f.toPath(), ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40).array());
        assertRefused(new Path(f.toURI().toString()), "absurd safetensors header length");
        File negative = new File(dir, "negative.safetensors");
        Files.write(negative.toPath(), ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN).putLong(-8).array());
        assertRefused(new Path(negative.toURI().toString()), "absurd safetensors header length");
    }

    @Test
    void offsetsPastTheEndAreRefused() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}";
        assertRefused(file("past.safetensors", header, floats(1, 2, 3)), "past the end");
    }

    @Test
    void overlappingOffsetsAreRefused() throws IOException {
        String header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        assertRefused(file("overlap.safetensors", header, floats(1, 2, 3)), "overlapping");
    }

    @Test
    void gapsSizeMismatchesAndTrailingBytesAreRefused() throws IOException {
        assertRefused(file("gap.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                floats(1, 2)), "gap");
        assertRefused(file("size.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                floats(1, 2)), "needs 12");
        assertRefused(file("trailing.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                floats(1, 2)), "bytes after the last tensor");
        assertRefused(file("json.safetensors", "{\"a\": [", floats(1)), "not valid JSON");
    }

    @Test
    void unknownAndUnsupportedDtypesAreRefused() throws IOException {
        assertRefused(file("unknown.safetensors", "{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}",
                floats(1)), "unknown dtype 'F31'");
        assertRefused(file("f64.safetensors", "{\"a\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
                floats(1, 2)), "dtype F64");
    }
}
