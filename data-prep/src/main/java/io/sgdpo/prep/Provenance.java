package io.sgdpo.prep;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.checkpoint.Checkpoints;
import io.sgdpo.checkpoint.ModelSource;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The chain of manifests behind a model, as {@code sgdpo export} writes it into the exported
 * folder ({@link #FILE}): the run that made the checkpoint, then what that run read, back to prep,
 * whose inputs are the raw data files with their SHA-256.
 *
 * <p>{@code provenance.json} holds {@code model} (what was exported: its path, kind and identity),
 * {@code chain} (one entry per manifest, nearest first: its file, the SHA-256 of its bytes, the
 * SHA-256 the stage after it recorded, a {@code status} and the manifest itself), {@code
 * rawInputs} (the prep inputs of the chain) and {@code commits} (every commit of the chain).
 *
 * <p>A link that cannot be followed any more is recorded, not fatal: {@code missing} (the folder is
 * gone), {@code changed} (its manifest's bytes differ from the SHA-256 the next stage recorded: it
 * was rebuilt since) or {@code other-run} (the run manifest beside a checkpoint belongs to another
 * run). A manifest that is there but broken is an error naming its file.
 */
public final class Provenance {

    /** The file in an exported folder. */
    public static final String FILE = "provenance.json";
    /** A link whose manifest is there, with the recorded checksum (or none recorded). */
    public static final String OK = "ok";
    /** A link whose folder or manifest is gone. */
    public static final String MISSING = "missing";
    /** A link whose manifest differs from the checksum recorded by the stage after it. */
    public static final String CHANGED = "changed";
    /** A checkpoint's run folder whose manifest is another run's. */
    public static final String OTHER_RUN = "other-run";

    /** The training state's key of a run's id, matched against the run manifest's {@code runId}. */
    public static final String RUN_ID = "runId";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Provenance() {
    }

    /** The chain behind {@code model}, as {@code provenance.json}'s content. */
    public static ObjectNode of(FileSystem fs, ModelSource model) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("provenanceVersion", 1);
        ObjectNode m = root.putObject("model");
        m.put("kind", model.huggingFace() ? Manifest.Model.HUGGING_FACE : Manifest.Model.CHECKPOINT);
        m.put("path", fs.makeQualified(model.path()).toString());
        m.put("sha256", model.identity());
        if (model.state() != null) {
            m.put("step", model.state().step());
        }
        ArrayNode chain = root.putArray("chain");
        Set<String> rawInputs = new LinkedHashSet<>();
        Set<String> commits = new LinkedHashSet<>();
        ArrayNode raw = JSON.createArrayNode();

        Deque<Link> pending = new ArrayDeque<>();
        Set<String> visited = new HashSet<>();
        if (!model.huggingFace()) {
            String runId = model.state() == null ? null : model.state().extra().get(RUN_ID);
            pending.add(new Link(runDir(model.path()), null, runId, "the run that wrote " + model.path()));
        }
        while (!pending.isEmpty()) {
            Link link = pending.poll();
            Path file = fs.makeQualified(new Path(link.dir, Manifest.FILE));
            if (!visited.add(file.toString())) {
                continue;
            }
            ObjectNode entry = chain.addObject();
            entry.put("file", file.toString());
            entry.put("role", link.role);
            entry.put("recordedSha256", link.sha256);
            if (!fs.isFile(file)) {
                entry.put("status", MISSING);
                continue;
            }
            byte[] bytes = Manifest.readBytes(fs, file);
            String sha = Manifest.sha256(bytes);
            Manifest manifest = Manifest.parse(new String(bytes, StandardCharsets.UTF_8), file.toString());
            entry.put("sha256", sha);
            String recordedRun = manifest.section(RUN_ID).asText(null);
            if (link.sha256 != null && !link.sha256.equals(sha)) {
                entry.put("status", CHANGED);
            } else if (link.runId != null && recordedRun != null && !link.runId.equals(recordedRun)) {
                entry.put("status", OTHER_RUN);
            } else {
                entry.put("status", OK);
            }
            entry.set("manifest", manifest.json());
            if (manifest.code().commit() != null) {
                commits.add(manifest.code().commit());
            }
            for (Manifest.Input in : manifest.inputs()) {
                if (Manifest.Input.ROLE_DATA.equals(in.role())) {
                    pending.add(new Link(new Path(in.path()), in.sha256(), null,
                            "input of " + manifest.stage()));
                } else if (rawInputs.add(in.path() + " " + in.sha256())) {
                    raw.addObject().put("role", in.role()).put("path", in.path()).put("sha256", in.sha256())
                            .put("readBy", manifest.stage());
                }
            }
            Manifest.Model init = manifest.model();
            if (init != null && !Manifest.Model.HUGGING_FACE.equals(init.kind())) {
                Path checkpoint = new Path(init.path());
                if (fs.isFile(new Path(checkpoint, Checkpoints.MODEL))) {
                    // the run folder of the checkpoint: RUN/checkpoints/step-N
                    pending.add(new Link(runDir(checkpoint), null, null, "the run that wrote " + init.path()
                            + " (the model of " + manifest.stage() + ")"));
                }
            }
        }
        root.set("rawInputs", raw);
        commits.forEach(root.putArray("commits")::add);
        return root;
    }

    /** {@code provenance.json}'s text. */
    public static String render(ObjectNode provenance) {
        try {
            return JSON.writeValueAsString(provenance);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The run folder of a checkpoint {@code RUN/checkpoints/step-N}. */
    private static Path runDir(Path checkpoint) {
        Path checkpoints = checkpoint.getParent();
        return checkpoints == null || checkpoints.getParent() == null ? checkpoint : checkpoints.getParent();
    }

    /** A manifest to visit: the folder holding it, and what the stage after it recorded about it. */
    private record Link(Path dir, String sha256, String runId, String role) {
    }
}
