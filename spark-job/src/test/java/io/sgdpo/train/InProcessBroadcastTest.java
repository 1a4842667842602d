package io.sgdpo.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import org.apache.spark.broadcast.Broadcast;
import org.junit.jupiter.api.Test;

/** A broadcast of local mode: its value crosses a task's serialization by key, and only until released. */
class InProcessBroadcastTest {

    @Test
    void aTaskInTheSameJvmReadsTheDriversOwnObjectUntilTheRoundReleasesIt() throws Exception {
        StringBuilder value = new StringBuilder("parameters");
        InProcessBroadcast<StringBuilder> b = InProcessBroadcast.of(value, StringBuilder.class);
        InProcessBroadcast<String> other = InProcessBroadcast.of("other", String.class);
        assertTrue(b.id() < 0, "never one of Spark's ids");
        assertNotEquals(b.id(), other.id());

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(b);
        }
        assertTrue(bytes.size() < 1024, "only a key travels: " + bytes.size() + " bytes");
        Broadcast<?> read;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            read = (Broadcast<?>) in.readObject();
        }
        assertSame(value, read.value());

        b.release();
        IllegalStateException gone = assertThrows(IllegalStateException.class, read::value);
        assertTrue(gone.getMessage().contains("local mode"), gone.getMessage());
        assertEquals("other", other.value());
        other.destroy();
        assertThrows(IllegalStateException.class, other::getValue);
    }
}
