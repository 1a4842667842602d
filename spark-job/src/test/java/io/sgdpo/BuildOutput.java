package io.sgdpo;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What {@code mvn package} leaves for the integration tests (*IT, run by failsafe after package):
 * the repository root, the job jar, the Spark home of provided jars, and the parent pom's Java 17
 * options. Every accessor fails with the path it expected when something is missing.
 */
public final class BuildOutput {

    private BuildOutput() {
    }

    /** The repository root (tests run in spark-job/). */
    public static File root() {
        File root = new File(System.getProperty("user.dir")).getAbsoluteFile().getParentFile();
        if (!new File(root, "pom.xml").isFile() || !new File(root, "spark-job").isDirectory()) {
            throw new IllegalStateException("expected the repository root above the working directory, got " + root);
        }
        return root;
    }

    /** The project version, passed by surefire and failsafe as sgdpo.version. */
    public static String version() {
        String v = System.getProperty("sgdpo.version");
        if (v == null || v.isBlank()) {
            throw new IllegalStateException("system property sgdpo.version is not set (the build sets it for "
                    + "surefire and failsafe)");
        }
        return v;
    }

    /** The name the build gives the job jar. */
    public static String jobJarName() {
        return "sgdpo-spark-job-" + version() + "-job.jar";
    }

    /** spark-job/target/sgdpo-spark-job-VERSION-job.jar, which must exist. */
    public static File jobJar() {
        File jar = new File(root(), "spark-job/target/" + jobJarName());
        if (!jar.isFile()) {
            throw new IllegalStateException("job jar missing: " + jar + " (mvn package builds it)");
        }
        return jar;
    }

    /** spark-job/target/spark-home: jars/ holds the Spark, Hadoop and Scala jars (the provided scope). */
    public static File sparkHome() {
        File home = new File(root(), "spark-job/target/spark-home");
        File[] jars = new File(home, "jars").listFiles((d, n) -> n.endsWith(".jar"));
        if (jars == null || jars.length == 0) {
            throw new IllegalStateException("no jars under " + home + "/jars (mvn package copies them)");
        }
        return home;
    }

    /** The jars of {@link #sparkHome()}, sorted by name. */
    public static List<File> sparkJars() {
        File[] jars = new File(sparkHome(), "jars").listFiles((d, n) -> n.endsWith(".jar"));
        Arrays.sort(jars);
        return List.of(jars);
    }

    /** The parent pom's java17.opens property, split into options. */
    public static List<String> java17Opens() {
        File pom = new File(root(), "pom.xml");
        String text;
        try {
            text = Files.readString(pom.toPath());
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + pom, e);
        }
        Matcher m = Pattern.compile("<java17\\.opens>(.*?)</java17\\.opens>", Pattern.DOTALL).matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("no java17.opens property in " + pom);
        }
        return List.of(m.group(1).trim().split("\\s+"));
    }
}
