package io.sgdpo.online;

import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/** The reward a configuration selects ({@code reward.*}), and the word split the rewards share. */
public final class Rewards {

    /** A word as rewards count them: letters and apostrophes, starting with a letter. */
    static final String WORD = "[a-z][a-z']*";
    private static final Pattern WORDS = Pattern.compile("[a-z][a-z']*");

    private Rewards() {
    }

    /** The lower-cased words of a text, in order. */
    public static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = WORDS.matcher(text.toLowerCase(Locale.ROOT));
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    /**
     * {@code reward.type = lexicon}: the word list {@code reward.lexicon} (any Hadoop path);
     * {@code pattern}: {@code reward.pattern.regex}, {@code weight}, {@code lengthWeight}.
     *
     * @throws ConfigurationException naming the key, or the lexicon file and line
     */
    public static Reward fromConfig(Config config, Configuration hadoop) {
        Config r = config.getConfig("reward");
        String type = r.getString("type");
        switch (type) {
            case "lexicon" -> {
                String file = r.getString("lexicon");
                if (file.isBlank()) {
                    throw new ConfigurationException("reward.lexicon must name a word list file for reward.type ="
                            + " lexicon");
                }
                return LexiconReward.parse(file, readLines(file, hadoop));
            }
            case "pattern" -> {
                Config p = r.getConfig("pattern");
                try {
                    return new PatternReward(p.getString("regex"), p.getDouble("weight"), p.getDouble("lengthWeight"));
                } catch (PatternSyntaxException e) {
                    throw new ConfigurationException("reward.pattern.regex is not a regular expression: "
                            + e.getMessage());
                }
            }
            default -> throw new ConfigurationException("reward.type must be lexicon or pattern, got '" + type + "'");
        }
    }

    private static List<String> readLines(String file, Configuration hadoop) {
        Path path = new Path(file);
        try {
            FileSystem fs = path.getFileSystem(hadoop);
            if (!fs.isFile(path)) {
                throw new ConfigurationException("reward.lexicon: no file " + file);
            }
            try (InputStream in = fs.open(path)) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
            }
        } catch (IOException e) {
            throw new ConfigurationException("reward.lexicon: cannot read " + file + ": " + e.getMessage());
        }
    }
}
