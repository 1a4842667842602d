package io.sgdpo.demo;

import static io.sgdpo.config.ConfigurationException.require;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.output.AtomicOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The demo's generated preference task, with a programmatic gold reward: prompts {@code "n+k="}
 * (n below 100,000, k from 1 to {@code maxAddend}), answered by the decimal sum.
 *
 * <p>The interesting prompts are those whose last digit carries ({@code 129+1=130}). The SFT mix is
 * deliberately noisy on them: with probability {@code sftNoise} its answer drops the carry
 * ({@code 129+1=120}), so a reference trained on it prefers the wrong answer on exactly those
 * prompts. The preference pairs choose the correct sum over a wrong one (the dropped carry on
 * carrying prompts, a near miss elsewhere). Held-out prompts, disjoint from both, measure what
 * preference training changed: exact match of greedy answers.
 *
 * <p>Everything is a function of {@code seed}; prompts never repeat across the three files.
 */
public final class ArithmeticTask {

    /** JSON Lines of SFT examples (prompt, chosen = the noisy target, rejected). */
    public static final String SFT_FILE = "sft.jsonl";
    /** JSON Lines of preference pairs (prompt, chosen, rejected). */
    public static final String PREFERENCE_FILE = "preferences.jsonl";
    /** JSON Lines of held-out prompts and their gold answers (the format of {@code sgdpo eval --gold}). */
    public static final String GOLD_FILE = "heldout-gold.jsonl";

    private static final int MAX_N = 100_000;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern PROMPT = Pattern.compile("(\\d{1,6})\\+(\\d)=");

    /** The task's size and noise, from the {@code demo.task} config block. */
    public record Settings(long seed, int maxAddend, double carryFraction, int sftExamples, int preferencePairs,
                           int heldOutPrompts, double sftNoise) {

        public static Settings of(Config task) {
            Settings s = new Settings(task.getLong("seed"), task.getInt("maxAddend"), task.getDouble("carryFraction"),
                    task.getInt("sftExamples"), task.getInt("preferencePairs"), task.getInt("heldOutPrompts"),
                    task.getDouble("sftNoise"));
            require(s.maxAddend >= 1 && s.maxAddend <= 9, "demo.task.maxAddend must lie in [1, 9], got " + s.maxAddend);
            require(s.carryFraction >= 0 && s.carryFraction <= 1,
                    "demo.task.carryFraction must lie in [0, 1], got " + s.carryFraction);
            require(s.sftNoise >= 0 && s.sftNoise <= 1, "demo.task.sftNoise must lie in [0, 1], got " + s.sftNoise);
            require(s.sftExamples >= 1 && s.preferencePairs >= 1 && s.heldOutPrompts >= 1,
                    "demo.task.sftExamples, preferencePairs and heldOutPrompts must be >= 1");
            return s;
        }
    }

    /** One prompt of the task. */
    public record Problem(int n, int k) {
        public String prompt() {
            return n + "+" + k + "=";
        }

        public int answer() {
            return n + k;
        }

        /** Whether adding k to the last digit carries into the tens. */
        public boolean carries() {
            return n % 10 + k >= 10;
        }

        /** The answer with the carry dropped: the last digit wraps, the tens stay ({@code 129+1=120}). */
        public int droppedCarry() {
            return answer() - 10;
        }
    }

    /** Whether a prompt of this task ({@code "n+k="}) carries; false for any other text. */
    public static boolean carries(String prompt) {
        Matcher m = PROMPT.matcher(prompt);
        return m.matches() && new Problem(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))).carries();
    }

    /** The three generated files. */
    public record Files(Path sft, Path preferences, Path gold) {
    }

    private ArithmeticTask() {
    }

    /** Writes the task's three files under {@code dir}, each replacing a previous one atomically. */
    public static Files write(FileSystem fs, Path dir, Settings s) throws IOException {
        Random random = new Random(s.seed());
        List<Problem> sft = new ArrayList<>();
        List<Problem> preferences = new ArrayList<>();
        List<Problem> heldOut = new ArrayList<>();
        draw(s, random, sft, preferences, heldOut);

        StringBuilder sftLines = new StringBuilder();
        for (Problem p : sft) {
            boolean noisy = p.carries() && random.nextDouble() < s.sftNoise();
            int target = noisy ? p.droppedCarry() : p.answer();
            int other = noisy ? p.answer() : wrongAnswer(p, random);
            sftLines.append(line(p.prompt(), target, other));
        }
        StringBuilder preferenceLines = new StringBuilder();
        for (Problem p : preferences) {
            preferenceLines.append(line(p.prompt(), p.answer(), wrongAnswer(p, random)));
        }
        StringBuilder goldLines = new StringBuilder();
        for (Problem p : heldOut) {
            ObjectNode o = JSON.createObjectNode();
            o.put("prompt", p.prompt());
            o.put("answer", Integer.toString(p.answer()));
            o.put("carries", p.carries());
            goldLines.append(JSON.writeValueAsString(o)).append('\n');
        }
        Files files = new Files(new Path(dir, SFT_FILE), new Path(dir, PREFERENCE_FILE), new Path(dir, GOLD_FILE));
        AtomicOutput.replaceString(fs, files.sft(), sftLines.toString());
        AtomicOutput.replaceString(fs, files.preferences(), preferenceLines.toString());
        AtomicOutput.replaceString(fs, files.gold(), goldLines.toString());
        return files;
    }

    /**
     * Distinct problems for the three sets, each with {@code carryFraction} carrying prompts: the
     * carrying and the other problems are shuffled separately and dealt out in order.
     */
    static void draw(Settings s, Random random, List<Problem> sft, List<Problem> preferences, List<Problem> heldOut) {
        List<Problem> carrying = new ArrayList<>();
        List<Problem> plain = new ArrayList<>();
        for (int n = 0; n < MAX_N; n++) {
            for (int k = 1; k <= s.maxAddend(); k++) {
                Problem p = new Problem(n, k);
                (p.carries() ? carrying : plain).add(p);
            }
        }
        Collections.shuffle(carrying, random);
        Collections.shuffle(plain, random);
        int[] next = {0, 0};
        deal(s.heldOutPrompts(), s.carryFraction(), carrying, plain, next, heldOut);
        deal(s.preferencePairs(), s.carryFraction(), carrying, plain, next, preferences);
        deal(s.sftExamples(), s.carryFraction(), carrying, plain, next, sft);
        Collections.shuffle(heldOut, random);
        Collections.shuffle(preferences, random);
        Collections.shuffle(sft, random);
    }

    private static void deal(int count, double carryFraction, List<Problem> carrying, List<Problem> plain, int[] next,
                             List<Problem> into) {
        int carries = (int) Math.round(count * carryFraction);
        if (next[0] + carries > carrying.size() || next[1] + count - carries > plain.size()) {
            throw new ConfigurationException("demo.task asks for more distinct prompts than n+k with n < " + MAX_N
                    + " and k <= maxAddend offers: lower sftExamples, preferencePairs or heldOutPrompts");
        }
        into.addAll(carrying.subList(next[0], next[0] + carries));
        into.addAll(plain.subList(next[1], next[1] + count - carries));
        next[0] += carries;
        next[1] += count - carries;
    }

    /** A wrong answer: the dropped carry where there is one, else a near miss. */
    static int wrongAnswer(Problem p, Random random) {
        if (p.carries()) {
            return p.droppedCarry();
        }
        int[] offsets = {1, -1, 10};
        return p.answer() + offsets[random.nextInt(offsets.length)];
    }

    private static String line(String prompt, int chosen, int rejected) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.put("prompt", prompt);
        o.put("chosen", Integer.toString(chosen));
        o.put("rejected", Integer.toString(rejected));
        return JSON.writeValueAsString(o) + "\n";
    }
}
