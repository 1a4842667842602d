package io.sgdpo.online;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.config.ConfigurationException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rewards against values computed by hand. Each expected value is the same few additions and
 * one division in double precision as the reward does them, in the same order, so they are
 * asserted bit-identical.
 */
class RewardsTest {

    @Test
    void lexiconRewardIsTheSumOfWordWeightsOverTheWords() {
        LexiconReward r = LexiconReward.parse("test.txt", List.of("# a comment", "", "happy 1.0", "sad -1.0",
                "fun 0.5", "don't -0.25"));
        // Words: the, dog, was, happy, and, had, fun, but, don't, be, sad = 11 words;
        // weights 1.0 + 0.5 - 0.25 - 1.0 = 0.25.
        assertEquals((1.0 + 0.5 + -0.25 + -1.0) / 11, r.score("Once upon a time.",
                " The dog was HAPPY, and had fun! But don't be sad."));
        assertEquals(0.0, r.score("p", " ... 123 !"), "no words: 0");
        assertEquals(1.0, r.score("p", "happy"));
    }

    @Test
    void theShippedLexiconParsesAndScoresHappyAboveSad() throws Exception {
        Path file = Path.of(System.getProperty("user.dir")).getParent().resolve("conf/reward-sentiment.txt");
        LexiconReward r = LexiconReward.parse(file.toString(), Files.readAllLines(file));
        assertEquals(1.0 / 4, r.score("", " She was happy today."));
        assertEquals(-1.0 / 4, r.score("", " She was sad today."));
    }

    @Test
    void aBadLexiconLineIsAnErrorNamingTheFileAndLine() {
        ConfigurationException e = assertThrows(ConfigurationException.class,
                () -> LexiconReward.parse("words.txt", List.of("happy 1.0", "# ok", "sad minus-one")));
        assertTrue(e.getMessage().startsWith("words.txt:3: "), e.getMessage());
        assertTrue(e.getMessage().contains("minus-one"), e.getMessage());
        e = assertThrows(ConfigurationException.class,
                () -> LexiconReward.parse("words.txt", List.of("happy 1.0", "happy 2.0")));
        assertTrue(e.getMessage().startsWith("words.txt:2: ") && e.getMessage().contains("twice"), e.getMessage());
        e = assertThrows(ConfigurationException.class, () -> LexiconReward.parse("words.txt", List.of("happy")));
        assertTrue(e.getMessage().startsWith("words.txt:1: "), e.getMessage());
        e = assertThrows(ConfigurationException.class, () -> LexiconReward.parse("words.txt", List.of("Happy 1")));
        assertTrue(e.getMessage().startsWith("words.txt:1: "), e.getMessage());
        e = assertThrows(ConfigurationException.class, () -> LexiconReward.parse("words.txt", List.of("# nothing")));
        assertTrue(e.getMessage().contains("words.txt"), e.getMessage());
    }

    @Test
    void patternRewardCountsMatchesAndWords() {
        PatternReward r = new PatternReward("ball", 2.0, -0.5);
        // 2 matches x 2.0 + 6 words x -0.5
        assertEquals(2 * 2.0 + 6 * -0.5, r.score("", " A ball and a red ball."));
        assertEquals(3 * 0.25, new PatternReward("", 1.0, 0.25).score("", "one two three"));
    }

    @Test
    void theConfigSelectsTheReward(@TempDir Path dir) throws Exception {
        Path words = dir.resolve("words.txt");
        Files.write(words, List.of("happy 2"));
        Configuration hadoop = new Configuration();
        Reward lexicon = Rewards.fromConfig(conf("reward.type = lexicon, reward.lexicon = \"" + words + "\""), hadoop);
        assertEquals(1.0, lexicon.score("", "happy day"));
        Reward pattern = Rewards.fromConfig(conf("reward.type = pattern, reward.pattern.regex = \"a+\""), hadoop);
        assertEquals(2.0, pattern.score("", "a baa"));
        Files.write(words, List.of("happy 2", "sad"));
        ConfigurationException e = assertThrows(ConfigurationException.class, () -> Rewards.fromConfig(
                conf("reward.type = lexicon, reward.lexicon = \"" + words + "\""), hadoop));
        assertTrue(e.getMessage().startsWith(words + ":2: "), e.getMessage());
        e = assertThrows(ConfigurationException.class, () -> Rewards.fromConfig(conf("reward.type = vibes"), hadoop));
        assertTrue(e.getMessage().contains("reward.type"), e.getMessage());
        e = assertThrows(ConfigurationException.class, () -> Rewards.fromConfig(
                conf("reward.type = lexicon, reward.lexicon = \"" + dir.resolve("none.txt") + "\""), hadoop));
        assertTrue(e.getMessage().contains("reward.lexicon") && e.getMessage().contains("none.txt"), e.getMessage());
        e = assertThrows(ConfigurationException.class, () -> Rewards.fromConfig(
                conf("reward.type = pattern, reward.pattern.regex = \"(\""), hadoop));
        assertTrue(e.getMessage().contains("reward.pattern.regex"), e.getMessage());
    }

    private static Config conf(String text) {
        return ConfigFactory.parseString(text).withFallback(ConfigFactory.parseString(
                "reward { lexicon = \"\", pattern { regex = \"\", weight = 1.0, lengthWeight = 0.0 } }"));
    }
}
