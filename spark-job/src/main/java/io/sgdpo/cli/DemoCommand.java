package io.sgdpo.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.sgdpo.demo.DemoJob;
import java.io.PrintStream;
import java.util.List;
import org.apache.spark.sql.SparkSession;

/** {@code sgdpo demo}: runs {@link DemoJob}. */
final class DemoCommand extends JobCommand {

    /** Where the demo writes when no --output is given (relative to the working directory). */
    static final String DEFAULT_OUTPUT = "runs/demo";

    @Override
    public String summary() {
        return "the whole pipeline on a generated task (or --data): prep, sft, ref-logps, SGDPO and DPO, eval, report";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo demo [--output DIR] [--data PATH...] [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("Runs prep -> sft -> ref-logps -> train (SGDPO and DPO from the same reference) -> eval -> report");
        s.println("in one Spark application and prints the policies side by side.");
        s.println();
        s.println("  --output DIR    where everything goes (default " + DEFAULT_OUTPUT + "); rerunning continues an");
        s.println("                  interrupted demo: finished stages are reused, training resumes");
        s.println("  --data PATH...  real preference data instead of the generated task: any input sgdpo prep reads");
        s.println("                  (HH-RLHF or prompt/chosen/rejected JSONL or Parquet, local or HDFS); the SFT");
        s.println("                  reference is trained on its chosen responses");
        s.println("  --conf FILE     HOCON config file over the demo's defaults (demo.*, model.*, sft.*, train.*, ...)");
        s.println("  -Dkey=value     config override, e.g. -Ddemo.losses=sgdpo,dpo,ipo -Dtrain.maxSteps=400");
        s.println();
        s.println("Without --data the task is generated: prompts \"n+k=\" whose SFT answers drop the carry in");
        s.println("demo.task.sftNoise of the carrying cases; the gold metric is the exact match of greedy answers on");
        s.println("held-out prompts. Exit status: 0 ok, 1 job failed, 2 usage or config error.");
    }

    @Override
    String name() {
        return "demo";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--output");
    }

    @Override
    List<String> listFlags() {
        return List.of("--data");
    }

    @Override
    List<String> required(Args args) {
        return List.of();
    }

    @Override
    Config defaults(Args args) {
        String resource = args.all("--data").isEmpty() ? "io/sgdpo/demo/generated.conf" : "io/sgdpo/demo/data.conf";
        return ConfigFactory.parseResources(DemoCommand.class.getClassLoader(), resource);
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        String output = args.value("--output") == null ? DEFAULT_OUTPUT : args.value("--output");
        DemoJob.run(spark, output, args.all("--data"), config, out);
    }
}
