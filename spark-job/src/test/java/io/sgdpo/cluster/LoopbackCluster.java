package io.sgdpo.cluster;

import io.sgdpo.BuildOutput;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The Spark standalone cluster of bench/cluster.sh (a master and workers on 127.0.0.1, executors
 * in their own JVMs), driven from a test: start, submit the job jar, find and kill executor JVMs,
 * stop. {@link #close()} stops everything by process id, also when a test failed.
 */
final class LoopbackCluster implements AutoCloseable {

    /** One finished submission: exit code, seconds, and its output (driver stdout and stderr). */
    record Submission(int code, double seconds, String output) {
    }

    private final File script;
    private final File dir;
    private final File logs;
    private int submissions;

    private LoopbackCluster(File dir) {
        this.script = new File(BuildOutput.root(), "bench/cluster.sh");
        this.dir = dir;
        this.logs = new File(dir, "submissions");
    }

    /** Starts a cluster of {@code workers} one-core workers; its state and logs go to {@code dir}. */
    static LoopbackCluster start(File dir, int workers) throws IOException, InterruptedException {
        LoopbackCluster c = new LoopbackCluster(dir);
        try {
            Submission s = c.script(Map.of("SGDPO_CLUSTER_WORKERS", String.valueOf(workers)), List.of("start"), null);
            if (s.code() != 0) {
                throw new IllegalStateException("bench/cluster.sh start failed:\n" + s.output());
            }
            Files.createDirectories(c.logs.toPath());
        } catch (IOException | InterruptedException | RuntimeException e) {
            c.close();
            throw e;
        }
        return c;
    }

    /** Submits {@code sgdpo args...} and waits; each output line also goes to {@code lines}. */
    Submission submit(Consumer<String> lines, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("submit"));
        command.addAll(List.of(args));
        Submission s = script(Map.of(), command, lines);
        File log = new File(logs, String.format("%02d-%s.log", ++submissions, args[0]));
        Files.writeString(log.toPath(), String.join(" ", args) + "\n" + s.output());
        return s;
    }

    /** The pids of the processes start recorded (master, workers), as in the pids file. */
    List<Long> daemons() throws IOException {
        File pids = new File(dir, "pids");
        if (!pids.isFile()) {
            pids = new File(dir, "pids.stopped");
        }
        List<Long> out = new ArrayList<>();
        for (String line : Files.readAllLines(pids.toPath())) {
            out.add(Long.parseLong(line.trim().split("\\s+")[1]));
        }
        return out;
    }

    /** The running executor JVMs: the workers' child processes. */
    List<ProcessHandle> executors() throws IOException {
        List<ProcessHandle> out = new ArrayList<>();
        for (long pid : daemons()) {
            ProcessHandle.of(pid).ifPresent(h -> h.children()
                    .filter(c -> c.info().commandLine().orElse("").contains("CoarseGrainedExecutorBackend"))
                    .forEach(out::add));
        }
        return out;
    }

    /** Kills one executor JVM with SIGKILL, by its pid; returns the pid. */
    long killOneExecutor() throws Exception {
        List<ProcessHandle> executors = executors();
        if (executors.isEmpty()) {
            throw new IllegalStateException("no executor JVM is running");
        }
        ProcessHandle victim = executors.get(0);
        victim.destroyForcibly();
        victim.onExit().get(30, TimeUnit.SECONDS);
        return victim.pid();
    }

    /** Stops the cluster with bench/cluster.sh stop, then kills by pid whatever is still alive. */
    @Override
    public void close() throws IOException, InterruptedException {
        List<ProcessHandle> left = new ArrayList<>();
        if (new File(dir, "pids").isFile()) {
            for (long pid : daemons()) {
                ProcessHandle.of(pid).ifPresent(h -> {
                    left.add(h);
                    h.descendants().forEach(left::add);
                });
            }
            script(Map.of(), List.of("stop"), null);
        }
        for (ProcessHandle h : left) {
            if (h.isAlive()) {
                h.destroyForcibly();
            }
        }
    }

    /** Whether every process the cluster started (daemons and their children) has exited. */
    boolean allStopped(List<Long> pids) {
        return pids.stream().noneMatch(p -> ProcessHandle.of(p).map(ProcessHandle::isAlive).orElse(false));
    }

    private Submission script(Map<String, String> env, List<String> args, Consumer<String> lines)
            throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", script.getPath()));
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().put("SGDPO_CLUSTER_DIR", dir.getPath());
        // Each submission starts a driver and two executor JVMs that live a minute or two: C2's
        // compilations took almost half of their CPU time, and on 2 cores shared with the other test
        // JVM that is wall time. C1 alone cut the loopback cluster's prep, SFT, ref-logps and training
        // submissions by 18 to 36%; Java's floating point is the same under either compiler, so every
        // figure the test compares is unchanged (README, "Tests").
        pb.environment().putIfAbsent("SGDPO_CLUSTER_JAVA_OPTS", "-XX:TieredStopAtLevel=1");
        pb.environment().putAll(env);
        long t0 = System.nanoTime();
        Process p = pb.start();
        StringBuilder out = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                out.append(line).append('\n');
                if (lines != null) {
                    lines.accept(line);
                }
            }
        } finally {
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
            }
        }
        return new Submission(p.exitValue(), (System.nanoTime() - t0) / 1e9, out.toString());
    }

    /** Writes a report file. */
    static void write(File f, String text) throws IOException {
        Files.createDirectories(f.getParentFile().toPath());
        try (PrintWriter w = new PrintWriter(f, StandardCharsets.UTF_8)) {
            w.print(text);
        }
    }
}
