package io.sgdpo.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.config.ConfigurationException;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading gold answer files and the exact-match rule. */
class GoldAnswersTest {

    @TempDir
    File dir;

    private String file(String text) throws IOException {
        File f = new File(dir, "gold.jsonl");
        Files.writeString(f.toPath(), text);
        return f.getAbsolutePath();
    }

    @Test
    void readsPromptsAndAnswersInOrder() throws IOException {
        GoldAnswers g = GoldAnswers.read(file("{\"prompt\":\"1+1=\",\"answer\":\"2\"}\n\n"
                + "{\"prompt\":\"9+1=\",\"answer\":\"10\",\"carries\":true}\n"), new Configuration());
        assertEquals(2, g.items().size());
        assertEquals("9+1=", g.items().get(1).prompt());
        assertEquals("10", g.items().get(1).answer());
    }

    @Test
    void exactMatchIgnoresOnlySurroundingWhiteSpace() {
        assertTrue(GoldAnswers.correct(" 10\n", "10"));
        assertFalse(GoldAnswers.correct("100", "10"));
        assertFalse(GoldAnswers.correct("1 0", "10"));
    }

    @Test
    void aBadLineIsAnErrorNamingFileAndLine() throws IOException {
        String path = file("{\"prompt\":\"1+1=\",\"answer\":\"2\"}\n{\"prompt\":\"2+2=\"}\n");
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> GoldAnswers.read(path, new Configuration()));
        assertTrue(e.getMessage().contains(path + ":2"), e.getMessage());
        String notJson = file("{\"prompt\":\"1+1=\",\"answer\":\"2\"}\n{oops\n");
        e = assertThrows(ConfigurationException.class, () -> GoldAnswers.read(notJson, new Configuration()));
        assertTrue(e.getMessage().contains(":2: not JSON"), e.getMessage());
        assertThrows(ConfigurationException.class, () -> GoldAnswers.read(new File(dir, "none").getPath(),
                new Configuration()));
    }
}
