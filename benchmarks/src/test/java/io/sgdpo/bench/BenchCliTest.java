package io.sgdpo.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.cli.Sgdpo;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class BenchCliTest {

    private record Run(int code, String out, String err) {
    }

    private static Run bench(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = Bench.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void everyBenchmarkHasHelpAndNoneIsAProductCommand() {
        Run list = bench("--help");
        assertEquals(0, list.code());
        for (String name : Bench.COMMANDS.keySet()) {
            assertTrue(list.out().contains("  " + name + " "), name + " listed: " + list.out());
            Run help = bench(name, "--help");
            assertEquals(0, help.code(), name);
            assertTrue(help.out().startsWith("Usage: sgdpo " + name), help.out());
        }
        ByteArrayOutputStream product = new ByteArrayOutputStream();
        assertEquals(0, Sgdpo.run(new String[] {"--help"}, new PrintStream(product, true, StandardCharsets.UTF_8),
                System.err));
        String productList = product.toString(StandardCharsets.UTF_8);
        for (String name : Bench.COMMANDS.keySet()) {
            assertFalse(productList.contains("  " + name + " "), name + " is listed as a product command");
            assertTrue(productList.contains(name), "the product's help says where " + name + " is");
        }
        Run unknown = bench("bench-nothing");
        assertEquals(Sgdpo.EXIT_USAGE, unknown.code());
        assertTrue(unknown.err().contains("bench-nothing"), unknown.err());
    }
}
