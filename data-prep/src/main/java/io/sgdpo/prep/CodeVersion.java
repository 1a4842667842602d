package io.sgdpo.prep;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The code that is running, as manifests and reports record it: the build's version (the jar's
 * {@code Implementation-Version}, "dev" outside a jar) and the git commit of the checkout the code
 * was loaded from.
 *
 * @param version the build's version
 * @param commit  {@code git rev-parse HEAD} of the checkout holding the running classes or jar,
 *                marked "with uncommitted changes" when tracked files differ from it, or
 *                {@link #UNKNOWN_COMMIT} where the code does not lie in a git checkout
 */
public record CodeVersion(String version, String commit) {

    /** The commit where the code was not loaded from a git checkout (e.g. a jar copied to a cluster). */
    public static final String UNKNOWN_COMMIT = "unknown (not run from a git checkout)";

    private static CodeVersion current;

    /** The running code's version; git is asked once per JVM. */
    public static synchronized CodeVersion current() {
        if (current == null) {
            String version = CodeVersion.class.getPackage().getImplementationVersion();
            current = new CodeVersion(version == null ? "dev" : version, commit(codeLocation()));
        }
        return current;
    }

    /**
     * The folder of the running classes (or of the jar): git is asked there rather than in the
     * working directory, which may be another project's checkout.
     */
    private static File codeLocation() {
        try {
            File f = new File(CodeVersion.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return f.isDirectory() ? f : f.getParentFile();
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    private static String commit(File dir) {
        if (dir == null) {
            return UNKNOWN_COMMIT;
        }
        String head = git(dir, "rev-parse", "HEAD");
        if (head == null) {
            return UNKNOWN_COMMIT;
        }
        String status = git(dir, "status", "--porcelain", "--untracked-files=no");
        return head + (status == null || status.isEmpty() ? "" : " with uncommitted changes");
    }

    private static String git(File dir, String... args) {
        List<String> command = new ArrayList<>(List.of("git", "-C", dir.getPath()));
        command.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out;
            try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                    StandardCharsets.UTF_8))) {
                out = in.lines().collect(Collectors.joining("\n")).strip();
            }
            return p.waitFor() == 0 ? out : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
