package io.sgdpo.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import io.sgdpo.config.ConfigurationException;
import io.sgdpo.prep.Provenance;
import io.sgdpo.prep.UserModel;
import java.io.PrintStream;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

/**
 * {@code sgdpo export}: writes a checkpoint as a Hugging Face folder that transformers, vLLM and
 * the llama.cpp converters load: {@code model.safetensors} in the architecture's own layout,
 * {@code config.json}, {@code generation_config.json} and the tokenizer files of the model it came
 * from, and {@code provenance.json}: the chain of manifests behind the checkpoint (its run, the
 * data it read, back to prep's raw input files, with their SHA-256 and the commits), see
 * {@link io.sgdpo.prep.Provenance}. It runs in this JVM, without Spark.
 */
final class ExportCommand extends JobCommand {

    @Override
    public String summary() {
        return "checkpoint -> Hugging Face folder (model.safetensors, config.json, tokenizer files)";
    }

    @Override
    void help(PrintStream s) {
        s.println("Usage: sgdpo export --model CKPT --output DIR [--dtype f32|bf16] [--conf FILE] [-Dkey=value...]");
        s.println();
        s.println("  --model CKPT   a checkpoint folder (e.g. RUN/checkpoints/step-0000000200) of a model that came");
        s.println("                 from a Hugging Face folder, or such a folder itself; any Hadoop URI");
        s.println("  --output DIR   the folder to write; it must not exist or be empty. Written under a temporary");
        s.println("                 name and renamed, so it is complete or absent");
        s.println("  --dtype T      f32 (default: the parameters exactly) or bf16 (half the size, rounded to nearest)");
        s.println();
        s.println("The folder also holds provenance.json: the manifests of the run that wrote the checkpoint and of");
        s.println("every stage before it (ref-logps, sft, prep), back to the raw data files' SHA-256 and the commits.");
        s.println();
        s.println("Exit status: 0 ok, 1 failed, 2 usage or config error.");
    }

    @Override
    String name() {
        return "export";
    }

    @Override
    List<String> valueFlags() {
        return List.of("--model", "--output", "--dtype");
    }

    @Override
    List<String> required(Args args) {
        return List.of("--model", "--output");
    }

    @Override
    void validate(Args args) {
        String dtype = args.value("--dtype");
        if (dtype != null && !dtype.equals("f32") && !dtype.equals("bf16")) {
            throw new ConfigurationException("--dtype must be f32 or bf16, got '" + dtype + "'");
        }
    }

    @Override
    boolean needsSpark() {
        return false;
    }

    @Override
    void execute(Args args, Config config, SparkSession spark, PrintStream out) throws Exception {
        String dtype = args.value("--dtype") == null ? "f32" : args.value("--dtype");
        Configuration hadoop = new Configuration();
        UserModel model = UserModel.open(args.value("--model"), hadoop, config);
        ObjectNode provenance = model.provenance(hadoop);
        String written = model.export(args.value("--output"), dtype, provenance, hadoop);
        out.println("sgdpo export: wrote " + written + " (" + model.shape().architecture().configName() + ", "
                + dtype + ")");
        out.println("  " + Provenance.FILE + ": " + provenance.path("chain").size() + " manifest(s), "
                + provenance.path("rawInputs").size() + " raw input file(s), commits " + provenance.path("commits"));
        provenance.path("chain").forEach(link -> {
            if (!Provenance.OK.equals(link.path("status").asText())) {
                out.println("  warning: " + link.path("file").asText() + " (" + link.path("role").asText() + "): "
                        + link.path("status").asText());
            }
        });
    }
}
