package io.sgdpo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The Dockerfiles under docker/ against the real build output. Docker itself does not run here,
 * so this checks what a build would need: every COPY source exists after {@code mvn package} (the
 * job jar by its real name), the entry point, the Spark defaults and every /opt/sgdpo path they
 * name are COPY destinations, the class they submit is the jar's main class, the Java options are
 * the pom's java17.opens, and the base images match the pom's Spark and CUDA versions.
 */
class DockerImagesIT {

    /** One Dockerfile instruction, continuation lines joined. */
    record Instruction(String keyword, String args) {
    }

    /** A local COPY: its sources (expanded globs, relative to the build context) and destination. */
    record Copy(List<File> sources, String destination) {
        boolean covers(String path) {
            return path.equals(destination) || (destination.endsWith("/") && path.startsWith(destination));
        }
    }

    private static final String SPARK_HOME = "/opt/spark";

    @Test
    void cpuImage() throws IOException {
        List<Instruction> file = parse(new File(BuildOutput.root(), "docker/cpu/Dockerfile"));
        assertEquals(List.of("apache/spark:" + pomProperty("spark.version") + "-java17"), froms(file),
                "the CPU image starts from the official Spark image of the pom's Spark version, Java 17");
        checkImage(file);
    }

    @Test
    void cudaImage() throws IOException {
        List<Instruction> file = parse(new File(BuildOutput.root(), "docker/cuda/Dockerfile"));
        List<String> froms = froms(file);
        assertTrue(froms.contains("apache/spark:" + pomProperty("spark.version") + "-java17 AS spark"),
                "the Spark distribution comes from the official image: " + froms);
        // The pom's cuda profile selects nd4j-cuda-X.Y: the base image must carry CUDA X.Y.
        Matcher cuda = Pattern.compile("nd4j-cuda-(\\d+\\.\\d+)").matcher(pom());
        assertTrue(cuda.find(), "no nd4j-cuda-X.Y backend in the pom's cuda profile");
        String base = froms.get(froms.size() - 1);
        assertTrue(base.startsWith("nvidia/cuda:" + cuda.group(1) + "."), "runtime base " + base
                + " must be CUDA " + cuda.group(1) + " for ND4J's " + cuda.group());
        assertEquals(SPARK_HOME, env(file).get("SPARK_HOME"), "the CUDA image sets SPARK_HOME");
        checkImage(file);
    }

    /** The checks every image must pass. */
    private static void checkImage(List<Instruction> file) throws IOException {
        List<Copy> copies = copies(file);

        // The job jar is copied by the name the build gave it.
        List<Copy> jarCopies = copies.stream()
                .filter(c -> c.sources().size() == 1 && c.sources().get(0).getName().endsWith("-job.jar")).toList();
        assertEquals(1, jarCopies.size(), "exactly one COPY of the job jar: " + copies);
        Copy jar = jarCopies.get(0);
        assertEquals(BuildOutput.jobJar().getCanonicalFile(), jar.sources().get(0).getCanonicalFile(),
                "the COPY of the job jar matches what mvn package built");

        // The entry point is a copied executable script.
        JsonNode entrypoint = execForm(file, "ENTRYPOINT");
        String entry = entrypoint.get(0).asText();
        Copy entryCopy = copyOf(copies, entry);
        File script = entryCopy.sources().get(0);
        assertTrue(script.canExecute(), script + " is the entry point and must be executable (git mode 755)");
        execForm(file, "CMD");

        // What the entry script submits: the copied job jar, with the jar's own main class.
        String text = Files.readString(script.toPath());
        Matcher cls = Pattern.compile("--class\\s+(\\S+)").matcher(text);
        assertTrue(cls.find(), script + " names no --class");
        String mainClass;
        try (JarFile jf = new JarFile(BuildOutput.jobJar())) {
            mainClass = jf.getManifest().getMainAttributes().getValue("Main-Class");
            assertEquals(mainClass, cls.group(1), "the submitted class is the job jar's Main-Class");
            assertTrue(jf.getEntry(mainClass.replace('.', '/') + ".class") != null,
                    mainClass + " is not a class in the job jar");
        }
        Matcher jarPath = Pattern.compile("(/\\S+\\.jar)\\b").matcher(text);
        assertTrue(jarPath.find(), script + " names no jar");
        assertEquals(jar.destination(), jarPath.group(1), "the entry script submits the copied job jar");
        everyOptSgdpoPathIsCopied(text, copies, script);

        // Spark's defaults: the Java 17 options for the driver and the executors.
        Copy defaults = copyOf(copies, SPARK_HOME + "/conf/spark-defaults.conf");
        File defaultsFile = defaults.sources().get(0);
        Properties spark = sparkDefaults(defaultsFile);
        for (String key : List.of("spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions")) {
            String value = spark.getProperty(key);
            assertTrue(value != null, defaultsFile + " sets no " + key);
            List<String> options = List.of(value.trim().split("\\s+"));
            List<String> missing = new ArrayList<>(BuildOutput.java17Opens());
            missing.removeAll(options);
            assertEquals(List.of(), missing, key + " in " + defaultsFile + " lacks options of the pom's java17.opens");
        }
        everyOptSgdpoPathIsCopied(Files.readString(defaultsFile.toPath()), copies, defaultsFile);

        // The example configs are in the image.
        Copy conf = copyOf(copies, "/opt/sgdpo/conf/");
        assertTrue(new File(conf.sources().get(0), "cluster.conf").isFile(), "conf/ is copied with its examples");
    }

    private static void everyOptSgdpoPathIsCopied(String text, List<Copy> copies, File where) {
        Matcher m = Pattern.compile("/opt/sgdpo/[\\w./-]*\\w").matcher(text);
        while (m.find()) {
            String path = m.group();
            assertTrue(copies.stream().anyMatch(c -> c.covers(path) || c.covers(path + "/")),
                    where + " names " + path + ", which no COPY puts in the image");
        }
    }

    private static Copy copyOf(List<Copy> copies, String destination) {
        return copies.stream().filter(c -> c.destination().equals(destination)).findFirst()
                .orElseThrow(() -> new AssertionError("no COPY to " + destination + " in " + copies));
    }

    static List<Instruction> parse(File dockerfile) throws IOException {
        assertTrue(dockerfile.isFile(), "missing " + dockerfile);
        List<Instruction> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : Files.readAllLines(dockerfile.toPath())) {
            String t = line.strip();
            if (current.length() == 0 && (t.isEmpty() || t.startsWith("#"))) {
                continue;
            }
            if (t.endsWith("\\")) {
                current.append(t, 0, t.length() - 1).append(' ');
                continue;
            }
            current.append(t);
            String joined = current.toString().strip();
            current.setLength(0);
            int space = joined.indexOf(' ');
            out.add(new Instruction(joined.substring(0, space).toUpperCase(), joined.substring(space + 1).strip()));
        }
        assertEquals(0, current.length(), dockerfile + " ends inside a continued line");
        return out;
    }

    private static List<String> froms(List<Instruction> file) {
        return file.stream().filter(i -> i.keyword().equals("FROM")).map(Instruction::args).toList();
    }

    private static Map<String, String> env(List<Instruction> file) {
        Map<String, String> env = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(\\w+)=(\\S+)").matcher("");
        file.stream().filter(i -> i.keyword().equals("ENV")).forEach(i -> {
            m.reset(i.args());
            while (m.find()) {
                env.put(m.group(1), m.group(2));
            }
        });
        return env;
    }

    /** The local COPY instructions (not --from a stage), sources expanded in the build context. */
    private static List<Copy> copies(List<Instruction> file) throws IOException {
        List<Copy> copies = new ArrayList<>();
        for (Instruction i : file) {
            if (!i.keyword().equals("COPY") && !i.keyword().equals("ADD")) {
                continue;
            }
            List<String> words = new ArrayList<>(List.of(i.args().split("\\s+")));
            assertFalse(words.get(0).startsWith("["), "use the shell form of COPY: " + i);
            if (words.stream().anyMatch(w -> w.startsWith("--from="))) {
                continue;
            }
            words.removeIf(w -> w.startsWith("--"));
            String destination = words.remove(words.size() - 1);
            List<File> sources = new ArrayList<>();
            for (String pattern : words) {
                List<File> matches = glob(pattern);
                assertFalse(matches.isEmpty(), "COPY source " + pattern + " matches nothing in "
                        + BuildOutput.root() + " (run mvn package first)");
                sources.addAll(matches);
            }
            assertTrue(destination.endsWith("/") || sources.size() == 1,
                    "COPY to the file " + destination + " must have exactly one source, got " + sources);
            copies.add(new Copy(sources, destination));
        }
        return copies;
    }

    private static List<File> glob(String pattern) throws IOException {
        Path root = BuildOutput.root().toPath();
        String clean = pattern.endsWith("/") ? pattern.substring(0, pattern.length() - 1) : pattern;
        if (!clean.contains("*") && !clean.contains("?")) {
            File f = root.resolve(clean).toFile();
            return f.exists() ? List.of(f) : List.of();
        }
        PathMatcher matcher = FileSystems.getDefault().getPathMatcher("glob:" + clean);
        try (Stream<Path> s = Files.walk(root.resolve(clean.substring(0, clean.lastIndexOf('/'))), 1)) {
            return s.filter(p -> matcher.matches(root.relativize(p))).map(Path::toFile).sorted().toList();
        }
    }

    private static JsonNode execForm(List<Instruction> file, String keyword) throws IOException {
        List<Instruction> found = file.stream().filter(i -> i.keyword().equals(keyword)).toList();
        assertEquals(1, found.size(), "exactly one " + keyword);
        JsonNode node = new ObjectMapper().readTree(found.get(0).args());
        assertTrue(node.isArray() && node.size() > 0, keyword + " must use the exec (JSON array) form");
        return node;
    }

    private static Properties sparkDefaults(File f) throws IOException {
        Properties p = new Properties();
        try (var in = Files.newBufferedReader(f.toPath())) {
            p.load(in);
        }
        return p;
    }

    private static String pom() throws IOException {
        return Files.readString(new File(BuildOutput.root(), "pom.xml").toPath());
    }

    private static String pomProperty(String name) throws IOException {
        Matcher m = Pattern.compile("<" + Pattern.quote(name) + ">([^<]+)</").matcher(pom());
        assertTrue(m.find(), "no property " + name + " in the parent pom");
        return m.group(1).trim();
    }
}
