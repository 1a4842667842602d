package io.sgdpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.junit.jupiter.api.Test;

/**
 * The job jar for spark-submit: its manifest, its merged reference.conf and service files, that it
 * leaves Spark, Hadoop and Scala to the cluster, and that it runs the command line with nothing but
 * the cluster's jars beside it.
 */
class JobJarIT {

    @Test
    void manifestNamesTheCommandLine() throws IOException {
        try (JarFile jar = new JarFile(BuildOutput.jobJar())) {
            var main = jar.getManifest().getMainAttributes();
            assertEquals("io.sgdpo.cli.Sgdpo", main.getValue("Main-Class"));
            assertNotNull(jar.getEntry("io/sgdpo/cli/Sgdpo.class"));
            // prep and ref-logps record it in their manifests as codeVersion.
            assertEquals(BuildOutput.version(), main.getValue("Implementation-Version"));
            List<String> signatures = jar.stream().map(JarEntry::getName)
                    .filter(n -> n.matches("META-INF/[^/]+\\.(SF|DSA|RSA)")).toList();
            assertEquals(List.of(), signatures, "signature files of the merged jars would make it unloadable");
            // The benchmarks are a module of their own: the jar a cluster gets is the product only.
            List<String> benchmarks = jar.stream().map(JarEntry::getName)
                    .filter(n -> n.startsWith("io/sgdpo/") && n.contains("/bench/")).toList();
            assertEquals(List.of(), benchmarks, "benchmark classes in the job jar");
        }
    }

    @Test
    void referenceConfHoldsEveryModulesKeys() throws IOException {
        Config merged;
        try (JarFile jar = new JarFile(BuildOutput.jobJar());
             InputStream in = jar.getInputStream(jar.getEntry("reference.conf"))) {
            merged = ConfigFactory.parseString(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        for (String module : List.of("model", "data-prep", "spark-job")) {
            File source = new File(BuildOutput.root(), module + "/src/main/resources/reference.conf");
            Config own = ConfigFactory.parseFile(source);
            assertTrue(!own.isEmpty(), source + " is empty");
            for (var e : own.entrySet()) {
                assertTrue(merged.hasPathOrNull(e.getKey()), "the job jar's reference.conf lacks " + e.getKey()
                        + " of " + source);
            }
        }
        for (String ns : List.of("prep", "tokenizer", "model", "loss", "sft", "train", "ref")) {
            assertTrue(merged.hasPath(ns), "no " + ns + " block in the job jar's reference.conf");
        }
    }

    @Test
    void nd4jFindsItsBackendThroughTheServiceFile() throws IOException {
        try (JarFile jar = new JarFile(BuildOutput.jobJar());
             InputStream in = jar.getInputStream(jar.getEntry("META-INF/services/org.nd4j.linalg.factory.Nd4jBackend"))) {
            List<String> backends = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().map(String::strip)
                    .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
            assertEquals(1, backends.size(), "one ND4J backend: " + backends);
            assertNotNull(jar.getEntry(backends.get(0).replace('.', '/') + ".class"), backends.get(0));
        }
    }

    @Test
    void leavesSparkHadoopAndScalaToTheCluster() throws IOException {
        // Every class the cluster's jars (the provided scope, copied to spark-home/jars) define.
        Map<String, String> clusterClasses = new TreeMap<>();
        for (File f : BuildOutput.sparkJars()) {
            try (JarFile jar = new JarFile(f)) {
                for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
                    String n = e.nextElement().getName();
                    if (isClass(n)) {
                        clusterClasses.putIfAbsent(n, f.getName());
                    }
                }
            }
        }
        assertTrue(clusterClasses.containsKey("org/apache/spark/SparkContext.class"), "Spark in spark-home/jars");
        assertTrue(clusterClasses.containsKey("org/apache/hadoop/fs/FileSystem.class"), "Hadoop in spark-home/jars");
        assertTrue(clusterClasses.containsKey("scala/Option.class"), "Scala in spark-home/jars");

        Set<String> both = new TreeSet<>();
        try (JarFile jar = new JarFile(BuildOutput.jobJar())) {
            jar.stream().map(JarEntry::getName).filter(JobJarIT::isClass).filter(clusterClasses::containsKey)
                    .filter(n -> !n.startsWith("javax/annotation/") && !n.startsWith("com/google/thirdparty/"))
                    .forEach(n -> both.add(n + " (" + clusterClasses.get(n) + ")"));
        }
        // Allowed above: ND4J's repackaged guava and protobuf jars carry the JSR-305 annotations and
        // guava's public-suffix tables unrelocated; the same types as the cluster's copies.
        assertTrue(both.isEmpty(), both.size() + " classes of the job jar are also the cluster's, e.g. "
                + both.stream().limit(10).toList());
    }

    @Test
    void runsTheCommandLineWithOnlyTheClustersJarsBeside() throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(new File(System.getProperty("java.home"), "bin/java").getPath());
        cmd.addAll(BuildOutput.java17Opens());
        cmd.add("-cp");
        cmd.add(BuildOutput.jobJar() + File.pathSeparator + new File(BuildOutput.sparkHome(), "jars") + "/*");
        cmd.add("io.sgdpo.cli.Sgdpo");
        cmd.add("--help");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "sgdpo --help did not finish");
        assertEquals(0, p.exitValue(), out);
        for (String command : List.of("prep", "sft", "ref-logps", "train")) {
            assertTrue(out.contains("  " + command + " "), "--help lists " + command + ":\n" + out);
        }
    }

    private static boolean isClass(String name) {
        return name.endsWith(".class") && !name.startsWith("META-INF/") && !name.endsWith("module-info.class");
    }
}
