package io.sgdpo.prep;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.sgdpo.config.ConfigurationException;
import io.sgdpo.prep.tokenize.ModelTokenizer;
import io.sgdpo.prep.tokenize.TokenizerMatch;
import io.sgdpo.prep.tokenize.TokenizerSpec;
import io.sgdpo.prep.tokenize.Vocabulary;
import java.nio.file.Files;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;

/** A model meets only data tokenized for it; the refusal names both tokenizers. */
class TokenizerMatchTest {

    private static ModelTokenizer open(String model) {
        return ModelTokenizer.open(TestSupport.sharedModel(model).toString(), new Configuration());
    }

    private static byte[] tokenizerJson(String model) throws Exception {
        return Files.readAllBytes(TestSupport.sharedModel(model).resolve("tokenizer.json"));
    }

    @Test
    void theModelsOwnTokenizerIsAccepted() throws Exception {
        ModelTokenizer stories = open("stories260K");
        assertDoesNotThrow(() -> TokenizerMatch.require(stories, "prep", 512, tokenizerJson("stories260K"), null,
                "stories260K"));
        // a checkpoint trained here on that data records the identity instead of carrying the file
        assertDoesNotThrow(() -> TokenizerMatch.require(stories, "prep", 512, null, stories.identity(), "ckpt"));
    }

    @Test
    void dataOfAnotherTokenizerIsRefusedNamingBoth() throws Exception {
        ModelTokenizer gpt2 = open("tiny-gpt2-random");
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> TokenizerMatch.require(gpt2,
                "gpt2-prep", 512, tokenizerJson("stories260K"), null, "models/stories260K"));
        assertTrue(e.getMessage().contains(gpt2.identity()) && e.getMessage().contains(open("stories260K").identity())
                && e.getMessage().contains("gpt2-prep") && e.getMessage().contains("models/stories260K")
                && e.getMessage().contains("--tokenizer-from"), e.getMessage());

        Vocabulary trimmed = Vocabulary.fromCounts(TokenizerSpec.gpt2(), Map.of("ab", 3L), 1);
        ConfigurationException t = assertThrows(ConfigurationException.class, () -> TokenizerMatch.require(trimmed,
                "trimmed-prep", 512, tokenizerJson("stories260K"), null, "models/stories260K"));
        assertTrue(t.getMessage().contains(TokenizerSpec.gpt2().identity()), t.getMessage());

        ConfigurationException recorded = assertThrows(ConfigurationException.class,
                () -> TokenizerMatch.require(trimmed, "trimmed-prep", trimmed.size(), null, "jtokkit:1.1.0:cl100k_base",
                        "ckpt"));
        assertTrue(recorded.getMessage().contains("cl100k_base"), recorded.getMessage());
    }

    @Test
    void aModelWithoutTokenizerRecordStillNeedsTheDatasVocabularySize() {
        Vocabulary trimmed = Vocabulary.fromCounts(TokenizerSpec.gpt2(), Map.of("ab", 3L), 1);
        assertDoesNotThrow(() -> TokenizerMatch.require(trimmed, "prep", trimmed.size(), null, null, "old-ckpt"));
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> TokenizerMatch.require(trimmed, "prep", trimmed.size() + 5, null, null, "old-ckpt"));
        assertTrue(e.getMessage().contains(Integer.toString(trimmed.size())), e.getMessage());
    }
}
