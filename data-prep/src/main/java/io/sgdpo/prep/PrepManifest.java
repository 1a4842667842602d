package io.sgdpo.prep;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.prep.tokenize.ModelTokenizer;
import io.sgdpo.prep.tokenize.TokenCodec;
import io.sgdpo.prep.tokenize.Vocabulary;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

import java.io.IOException;

/**
 * The {@link Manifest} of one prep output: its fingerprint, inputs and counts, and prep's own
 * sections.
 *
 * <ul>
 *   <li>{@code fingerprint}: SHA-256 over the output version, the inputs (path, size, checksum,
 *       format, and the role of an eval input), the prep/tokenizer config and the tokenizer identity
 *       (with a model's own tokenizer: SHA-256 of its tokenizer.json, and its special ids and chat
 *       template);
 *       equal fingerprint = nothing to do;</li>
 *   <li>{@code inputs}: one entry per file, with its {@code role}: {@code input} (pairs split by hash)
 *       or {@code eval-input} (pairs all in the eval split);</li>
 *   <li>{@code counts}: {@code read = kept + rejected}, rejected by reason (duplicates included
 *       under "duplicate" and repeated as {@code duplicates}), truncations, split sizes.</li>
 * </ul>
 */
final class PrepManifest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private PrepManifest() {
    }

    /** The identity of an output: changes whenever inputs, config or tokenizer change. */
    static String fingerprint(int outputVersion, java.util.List<InputFile> files, String configJson,
                                     String tokenizerIdentity) {
        ObjectNode n = JSON.createObjectNode();
        n.put("outputVersion", outputVersion);
        ArrayNode inputs = n.putArray("inputs");
        for (InputFile f : files) {
            ObjectNode in = inputs.addObject().put("path", f.path()).put("size", f.size()).put("sha256", f.sha256())
                    .put("format", f.format().name().toLowerCase());
            // Only eval inputs add a role: an output built from ordinary inputs alone keeps its
            // existing fingerprint (no needless rebuild), while moving a file between the lists
            // still changes it.
            if (f.evalInput()) {
                in.put("role", f.role());
            }
        }
        n.put("config", configJson);
        n.put("tokenizer", tokenizerIdentity);
        return Manifest.sha256(n.toString());
    }

    static Manifest build(String fingerprint, int outputVersion, java.util.List<InputFile> files, String configJson,
                            TokenCodec vocab, String vocabJson, PrepSettings settings,
                            PrepStats stats, int shards, FileSystem fs, Path pairsDir, String master,
                            long durationMs, java.util.Map<String, Long> phaseMillis) throws IOException {
        Manifest.Builder manifest = Manifest.builder("prep").fingerprint(fingerprint).config(configJson);
        ObjectNode m = JSON.createObjectNode();
        m.put("outputVersion", outputVersion);
        for (InputFile f : files) {
            manifest.input(new Manifest.Input(f.role(), f.path(), f.sha256(), JSON.createObjectNode()
                    .put("size", f.size())
                    .put("kind", f.parquet() ? "parquet" : "jsonl")
                    .put("format", f.format().name().toLowerCase())
                    .put("read", stats.readByFile.getOrDefault(f.index(), 0L))
                    .put("kept", stats.keptByFile.getOrDefault(f.index(), 0L))));
        }

        ObjectNode tok = m.putObject("tokenizer");
        ObjectNode v = m.putObject("vocabulary");
        v.put("file", PairSchema.VOCAB_FILE);
        v.put("sha256", Manifest.sha256(vocabJson));
        v.put("size", vocab.size());
        if (vocab instanceof Vocabulary trimmed) {
            tok.put("type", trimmed.tokenizer().type());
            tok.put("name", trimmed.tokenizer().name());
            v.put("requestedPieces", settings.vocabSize());
            v.put("keptPieces", trimmed.keptPieces());
        } else if (vocab instanceof ModelTokenizer model) {
            tok.put("type", ModelTokenizer.TYPE);
            tok.put("name", model.source());
            tok.put("chatTemplate", model.chatTemplate() != null);
            v.put("bosId", vocab.bosId());
        }
        tok.put("identity", vocab.identity());
        v.put("eosId", vocab.eosId());
        v.put("padId", vocab.padId());

        ObjectNode c = JSON.createObjectNode();
        c.put("read", stats.read);
        c.put("kept", stats.kept);
        c.put("rejected", stats.rejected());
        ObjectNode by = c.putObject("rejectedByReason");
        stats.rejectedByReason.forEach(by::put);
        c.put("duplicates", stats.rejectedByReason.getOrDefault(RejectReason.DUPLICATE.id(), 0L));
        ObjectNode t = c.putObject("truncated");
        t.put("pairs", stats.pairsTruncated);
        t.put("prompt", stats.promptTruncated);
        t.put("chosen", stats.chosenTruncated);
        t.put("rejected", stats.rejectedTruncated);
        ObjectNode sp = c.putObject("splits");
        sp.put("train", stats.train);
        sp.put("eval", stats.eval);

        ObjectNode tokens = m.putObject("tokens");
        tokens.put("prompt", stats.promptTokens);
        tokens.put("responses", stats.responseTokens);
        if (vocab instanceof Vocabulary) { // the trimmed vocabulary's byte ids spell pieces it did not keep
            tokens.put("byteTokenIds", stats.byteTokenIds);
        }

        ObjectNode sh = m.putObject("pairs");
        sh.put("dir", PairSchema.PAIRS_DIR);
        sh.put("shards", shards);
        sh.put("targetShardBytes", settings.shardTargetBytes());
        ArrayNode list = sh.putArray("files");
        long total = 0;
        FileStatus[] parts = fs.listStatus(pairsDir, p -> p.getName().endsWith(".parquet"));
        java.util.Arrays.sort(parts, (a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
        for (FileStatus st : parts) {
            list.addObject().put("name", st.getPath().getName()).put("bytes", st.getLen());
            total += st.getLen();
        }
        sh.put("bytes", total);
        m.putObject("rejects").put("dir", PairSchema.REJECTS_DIR).put("count", stats.rejected());
        ObjectNode run = m.putObject("run");
        run.put("sparkMaster", master);
        run.put("durationMs", durationMs);
        ObjectNode ph = run.putObject("phasesMs");
        phaseMillis.forEach(ph::put);
        c.fields().forEachRemaining(e -> manifest.count(e.getKey(), e.getValue()));
        m.fields().forEachRemaining(e -> manifest.section(e.getKey(), e.getValue()));
        return manifest.build();
    }
}
