package io.sgdpo.prep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.prep.tokenize.ChatTemplate;
import io.sgdpo.prep.tokenize.ModelTokenizer;
import io.sgdpo.prep.tokenize.TokenCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model's own tokenizer reproduces the fixtures' reference ids exactly (ids are integers: an
 * exact comparison is the only right one), renders the chat template as Jinja2 did, and refuses
 * model folders whose files disagree.
 */
class ModelTokenizerTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    private static ModelTokenizer open(String model) {
        return ModelTokenizer.open(TestSupport.sharedModel(model).toString(), new Configuration());
    }

    private static JsonNode reference(String model) throws Exception {
        return JSON.readTree(TestSupport.sharedModel(model).resolve("reference.json").toFile());
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    @Test
    void stories260kEncodesEveryReferenceTextExactlyWithBosFirst() throws Exception {
        ModelTokenizer tok = open("stories260K");
        assertEquals(512, tok.size());
        assertEquals(1, tok.bosId());
        assertEquals(2, tok.eosId());
        JsonNode ref = reference("stories260K");
        assertTrue(ref.path("encodings").size() >= 10);
        for (JsonNode e : ref.path("encodings")) {
            assertArrayEquals(ints(e.path("ids")), tok.encodePrompt(e.path("text").asText()), e.path("text").asText());
        }
        for (JsonNode p : ref.path("prompts")) {
            int[] ids = ints(p.path("ids"));
            assertArrayEquals(ids, tok.encodePrompt(p.path("text").asText()));
            int[] all = Arrays.copyOf(ids, ids.length + p.path("greedy_ids").size());
            System.arraycopy(ints(p.path("greedy_ids")), 0, all, ids.length, p.path("greedy_ids").size());
            assertEquals(p.path("greedy_text").asText(), tok.decode(all), "decode of prompt + greedy continuation");
        }
        assertEquals("sha256:" + sha256(TestSupport.sharedModel("stories260K").resolve("tokenizer.json")),
                tok.identity());
    }

    @Test
    void gpt2EncodesTheReferenceTextsWithoutBos() throws Exception {
        ModelTokenizer tok = open("tiny-gpt2-random");
        assertEquals(50257, tok.size());
        assertEquals(50256, tok.eosId());
        for (JsonNode t : reference("tiny-gpt2-random").path("texts")) {
            assertArrayEquals(ints(t.path("ids")), tok.encodePrompt(t.path("text").asText()), t.path("text").asText());
        }
        assertEquals("Hello world, this is a test.", tok.decode(tok.encodePrompt("Hello world, this is a test.")));
    }

    @Test
    void aResponseIsWhatItAddsToThePromptInOneText() {
        ModelTokenizer tok = open("stories260K");
        String prompt = "Once upon a time";
        String response = ", there was a little girl.";
        int[] p = tok.encodePrompt(prompt);
        int[] r = tok.encodeResponse(prompt, response);
        int[] joint = tok.encodePrompt(prompt + response);
        int[] concatenated = Arrays.copyOf(p, p.length + r.length);
        System.arraycopy(r, 0, concatenated, p.length, r.length);
        assertArrayEquals(joint, concatenated);
        assertEquals(response.strip(), tok.decode(r).strip());
    }

    @Test
    void qwen2ChatTemplateRendersAsJinja2DidAndEncodesToTheReferenceIds() throws Exception {
        ModelTokenizer tok = open("tiny-qwen2-random");
        ChatTemplate template = tok.chatTemplate();
        assertNotNull(template);
        JsonNode chat = reference("tiny-qwen2-random").path("chat");
        List<ChatTemplate.Message> messages = new ArrayList<>();
        for (JsonNode m : chat.path("messages")) {
            messages.add(new ChatTemplate.Message(m.path("role").asText(), m.path("content").asText()));
        }
        String rendered = template.render(messages, chat.path("add_generation_prompt").asBoolean());
        assertEquals(chat.path("rendered").asText(), rendered);
        assertArrayEquals(ints(chat.path("ids")), tok.encodePrompt(rendered));
        assertTrue(open("stories260K").chatTemplate() == null, "stories260K has no chat template");
    }

    @Test
    void vocabJsonRoundTripsAndKeepsTheIdentity() {
        ModelTokenizer tok = open("stories260K");
        TokenCodec back = TokenCodec.fromJson(tok.toJson());
        ModelTokenizer m = assertInstanceOf(ModelTokenizer.class, back);
        assertEquals(tok.identity(), m.identity());
        assertEquals(tok.size(), m.size());
        assertEquals(tok.eosId(), m.eosId());
        assertEquals(tok.padId(), m.padId());
        assertArrayEquals(tok.encodePrompt("Lily saw a cat."), m.encodePrompt("Lily saw a cat."));
    }

    @Test
    void aTokenizerWithMoreIdsThanTheModelIsRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        Path model = copyOf("stories260K", dir);
        ObjectNode config = (ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
        config.put("vocab_size", 300);
        JSON.writeValue(model.resolve("config.json").toFile(), config);
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> ModelTokenizer.open(model.toString(), new Configuration()));
        assertTrue(e.getMessage().contains("tokenizer.json") && e.getMessage().contains("vocab_size 300"),
                e.getMessage());
    }

    @Test
    void brokenModelFoldersAreRefusedNamingFileAndField(@TempDir Path dir) throws Exception {
        Path model = copyOf("tiny-qwen2-random", dir);
        ObjectNode tokConfig = (ObjectNode) JSON.readTree(model.resolve("tokenizer_config.json").toFile());
        tokConfig.put("chat_template", "{% for m in messages %}{{ m['content'] }");
        JSON.writeValue(model.resolve("tokenizer_config.json").toFile(), tokConfig);
        ConfigurationException bad = assertThrows(ConfigurationException.class,
                () -> ModelTokenizer.open(model.toString(), new Configuration()));
        assertTrue(bad.getMessage().contains("tokenizer_config.json"), bad.getMessage());

        Path noEos = copyOf("stories260K", dir.resolve("b"));
        ObjectNode config = (ObjectNode) JSON.readTree(noEos.resolve("config.json").toFile());
        config.remove("eos_token_id");
        JSON.writeValue(noEos.resolve("config.json").toFile(), config);
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> ModelTokenizer.open(noEos.toString(), new Configuration()));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("eos_token_id"), e.getMessage());

        Path missing = dir.resolve("empty");
        Files.createDirectories(missing);
        ConfigurationException m = assertThrows(ConfigurationException.class,
                () -> ModelTokenizer.open(missing.toString(), new Configuration()));
        assertTrue(m.getMessage().contains("tokenizer.json"), m.getMessage());
    }

    @Test
    void aTemplateThatRaisesSaysSo() {
        ChatTemplate t = new ChatTemplate("{% if messages[0]['role'] != 'user' %}{{ raise_exception('first must be user') }}"
                + "{% endif %}ok", "x/tokenizer_config.json", java.util.Map.of());
        assertEquals("ok", t.render(List.of(new ChatTemplate.Message("user", "hi")), false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> t.render(List.of(new ChatTemplate.Message("assistant", "hi")), false));
        assertTrue(e.getMessage().contains("first must be user"), e.getMessage());
    }

    private static Path copyOf(String name, Path dir) throws Exception {
        Path src = TestSupport.sharedModel(name);
        Files.createDirectories(dir);
        for (String f : new String[] {"config.json", "tokenizer.json", "tokenizer_config.json"}) {
            if (Files.exists(src.resolve(f))) {
                Files.copy(src.resolve(f), dir.resolve(f));
            }
        }
        return dir;
    }

    private static String sha256(Path file) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(file)));
    }
}
