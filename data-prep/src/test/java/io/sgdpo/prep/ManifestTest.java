package io.sgdpo.prep;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The typed manifest: its JSON round trip, manifests written before it, and broken files. */
class ManifestTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    File tmp;

    private static Manifest sample() {
        return Manifest.builder("frontier")
                .input(new Manifest.Input(Manifest.Input.ROLE_DATA, "/data/ref", "ab".repeat(32),
                        JSON.createObjectNode().put("stage", "ref-logps")))
                .model(new Manifest.Model(Manifest.Model.CHECKPOINT, "/run/checkpoints/step-1", "cd".repeat(32),
                        JSON.createObjectNode()))
                .config("{\"loss\": {\"name\": \"dpo\", \"beta\": 0.1}}")
                .count("pairs", 12)
                .section("runId", "dpo-1234")
                .build();
    }

    @Test
    void aManifestReadsBackAsWrittenAndItsFingerprintFollowsInputsModelAndConfig() throws IOException {
        Manifest m = sample();
        Manifest read = Manifest.parse(m.render(), "x");
        assertEquals(m.render(), read.render());
        assertEquals(m.inputs().get(0).path(), read.inputs().get(0).path());
        assertEquals(m.model().sha256(), read.model().sha256());
        assertEquals("dpo-1234", read.section("runId").asText());
        assertEquals(12, read.count("pairs"));
        assertEquals("ref-logps", read.inputs(Manifest.Input.ROLE_DATA).get(0).detail("stage").asText());

        // the fingerprint is a function of the inputs' checksums, the model and the config
        assertEquals(m.fingerprint(), sample().fingerprint());
        Manifest other = Manifest.builder("frontier").input(m.inputs().get(0)).model(m.model())
                .config("{\"loss\": {\"name\": \"dpo\", \"beta\": 0.2}}").build();
        assertTrue(!other.fingerprint().equals(m.fingerprint()));
        assertThrows(IllegalArgumentException.class, () -> Manifest.builder("x").section("inputs", "no"));
    }

    @Test
    void manifestsWrittenBeforeTheTypedShapeAreReadWithTheirFieldsMapped() throws IOException {
        Manifest train = Manifest.parse("{\"stage\": \"train\", \"run_id\": \"dpo-1\", \"data\": \"/d/ref\","
                + " \"init\": \"/s/checkpoints/step-9\", \"total_steps\": 40, \"config\": {\"loss\": {}}}", "t");
        assertEquals(1, train.version());
        assertEquals("/d/ref", train.inputs().get(0).path());
        assertNull(train.inputs().get(0).sha256(), "never recorded");
        assertEquals("/s/checkpoints/step-9", train.model().path());
        assertEquals("dpo-1", train.section("runId").asText());
        assertEquals(40, train.section("totalSteps").asLong());

        Manifest ref = Manifest.parse("{\"stage\": \"ref-logps\", \"fingerprint\": \"f\", \"codeVersion\": \"0.1\","
                + " \"input\": {\"dir\": \"/p\", \"manifestSha256\": \"aa\", \"fingerprint\": \"pf\"},"
                + " \"checkpoint\": {\"path\": \"/c\", \"sha256\": \"bb\"}}", "r");
        assertEquals("aa", ref.inputs().get(0).sha256());
        assertEquals("bb", ref.model().sha256());
        assertEquals(CodeVersion.UNKNOWN_COMMIT, ref.code().commit());

        Manifest sft = Manifest.parse("{\"stage\": \"sft\", \"checkpoint\": \"/s/step-9\","
                + " \"checkpoint_sha256\": \"cc\", \"model\": \"decoder d=32\"}", "s");
        assertEquals("cc", sft.section("checkpoint").path("sha256").asText());
        assertNull(sft.model());
        assertEquals("decoder d=32", sft.section("shape").asText());
    }

    @Test
    void aBrokenOrForeignManifestIsAnErrorNamingTheFile() throws IOException {
        FileSystem fs = FileSystem.getLocal(new Configuration());
        Path dir = new Path(tmp.getPath());
        assertNull(Manifest.readIfPresent(fs, dir), "no manifest: none");
        File file = new File(tmp, Manifest.FILE);
        String[][] cases = {
            {"{\"stage\": \"prep\",\n \"inputs\": [}", "not valid JSON (line 2)"},
            {"[1, 2]", "a JSON object is expected"},
            {"{\"inputs\": []}", "'stage' is missing"},
            {"{\"stage\": 3}", "'stage' must be a non-empty string"},
            {"{\"stage\": \"prep\", \"inputs\": {}}", "inputs must be a list"},
            {"{\"stage\": \"prep\", \"inputs\": [{\"sha256\": \"a\"}]}", "inputs[0]: 'path' is missing"},
            {"{\"stage\": \"prep\", \"config\": []}", "'config' must be an object"},
            {"{\"stage\": \"prep\", \"manifestVersion\": 99}", "written by a newer sgdpo"},
            {"{\"stage\": \"prep\", \"manifestVersion\": \"2\"}", "manifestVersion must be a positive integer"},
        };
        for (String[] c : cases) {
            Files.writeString(file.toPath(), c[0]);
            IOException e = assertThrows(IOException.class, () -> Manifest.readIfPresent(fs, dir), c[0]);
            assertTrue(e.getMessage().contains(file.getPath()) && e.getMessage().contains(c[1]),
                    c[0] + " -> " + e.getMessage());
        }
    }
}
