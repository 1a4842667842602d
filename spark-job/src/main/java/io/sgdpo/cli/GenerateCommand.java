package io.sgdpo.cli;

import static io.sgdpo.config.ConfigurationException.require;

import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.nn.Generator;
import io.sgdpo.prep.tokenize.TokenCodec;
import io.sgdpo.train.PairShards;
import io.sgdpo.prep.UserModel;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * {@code sgdpo generate}: prints a prompt and its continuation by a model (a Hugging Face folder or
 * a checkpoint), greedy by default, stopping at EOS. It runs in this JVM, without Spark.
 */
final class GenerateCommand extends JobCommand {

    @Override
    public String summary() {
        return "a model + a prompt -> the prompt and its continuation (greedy, or sampled with a seed)";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo generate --model M --prompt TEXT [--max-new-tokens N] [--temperature T --top-k K --seed S]");
        s.println("                      [--data DIR] [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --model M             a Hugging Face model folder (config.json, model.safetensors, tokenizer.json)");
        s.println("                        or a checkpoint folder, any Hadoop URI");
        s.println("  --prompt TEXT         the text to continue, encoded as the model's tokenizer encodes a text");
        s.println("                        (Llama: BOS first)");
        s.println("  --max-new-tokens N    longest continuation in tokens (generate.maxNewTokens, default 64)");
        s.println("  --temperature T       0 (default): greedy; > 0: sample from softmax(logits / T)");
        s.println("  --top-k K             sample among the K most likely tokens (0: all)");
        s.println("  --seed S              seed of the sampling");
        s.println("  --data DIR            a prep output whose vocab.json to use, for a checkpoint trained from");
        s.println("                        scratch (models from a Hugging Face folder carry their tokenizer)");
        s.println("  --conf FILE           HOCON config file (generate.*, model.maxLength for a Hugging Face folder)");
        s.println();
        s.println("Prints the prompt followed by its continuation on standard output. Exit status: 0 ok, 1 failed,");
        s.println("2 usage or config error.");
    }

    @Override
    String name() {
        return "generate";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--model", "--prompt", "--max-new-tokens", "--temperature", "--top-k", "--seed", "--data");
    }

    @Override
    List<String> required(Args args) {
        return List.of("--model", "--prompt");
    }

    @Override
    boolean needsSpark() {
        return false;
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        int maxNewTokens = intFlag(args, "--max-new-tokens", config.getInt("generate.maxNewTokens"));
        double temperature = doubleFlag(args, "--temperature", config.getDouble("generate.temperature"));
        int topK = intFlag(args, "--top-k", config.getInt("generate.topK"));
        long seed = args.value("--seed") != null ? longFlag(args, "--seed") : config.getLong("generate.seed");
        require(maxNewTokens >= 0, "--max-new-tokens (generate.maxNewTokens) must be >= 0, got " + maxNewTokens);
        require(temperature >= 0, "--temperature (generate.temperature) must be >= 0, got " + temperature);
        require(topK >= 0, "--top-k (generate.topK) must be >= 0, got " + topK);

        Configuration hadoop = new Configuration();
        UserModel model = UserModel.open(args.value("--model"), hadoop, config);
        TokenCodec tokenizer = args.value("--data") != null ? PairShards.vocabulary(args.value("--data"), hadoop)
                : model.tokenizer();
        if (tokenizer == null) {
            throw new ConfigurationException("the model " + args.value("--model") + " was trained from scratch and"
                    + " carries no tokenizer: pass --data with the prep output it was trained on");
        }
        if (args.value("--data") != null) {
            model.requireTokenizer(tokenizer, args.value("--data"));
        }
        int length = model.shape().maxLength();
        int[] prompt = tokenizer.encodePrompt(args.value("--prompt"));
        if (prompt.length == 0 || prompt.length >= length) {
            throw new ConfigurationException("--prompt is " + prompt.length + " tokens; the model's length "
                    + length + " (model.maxLength) leaves room for 1 to " + (length - 1));
        }
        Generator generator = new Generator(model.graph(), length, tokenizer.eosId(), tokenizer.padId());
        int[] continuation = temperature == 0 ? generator.greedy(prompt, maxNewTokens)
                : generator.sample(prompt, maxNewTokens, temperature, topK, new Random(seed));
        int[] all = Arrays.copyOf(prompt, prompt.length + continuation.length);
        System.arraycopy(continuation, 0, all, prompt.length, continuation.length);
        out.println(tokenizer.decode(all));
    }

    private static int intFlag(Args args, String flag, int fallback) {
        return args.value(flag) == null ? fallback : Math.toIntExact(longFlag(args, flag));
    }

    private static long longFlag(Args args, String flag) {
        String v = args.value(flag);
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new ConfigurationException(flag + " must be an integer, got '" + v + "'");
        }
    }

    private static double doubleFlag(Args args, String flag, double fallback) {
        String v = args.value(flag);
        if (v == null) {
            return fallback;
        }
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new ConfigurationException(flag + " must be a number, got '" + v + "'");
        }
    }
}
