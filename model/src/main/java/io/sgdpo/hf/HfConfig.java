package io.sgdpo.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sgdpo.nn.LanguageModelLayer;
import io.sgdpo.nn.gpt2.Gpt2Config;
import io.sgdpo.nn.gpt2.Gpt2Model;
import io.sgdpo.nn.llama.LlamaConfig;
import io.sgdpo.nn.llama.LlamaModel;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * transformers' {@code config.json} to one of this project's architectures, and back.
 *
 * <p>Strict: every field must be known. A field that changes the model's function in a way this
 * project does not implement ({@code rope_scaling}, a sliding window, another activation, biases
 * Llama does not have here, GPT-2's attention variants, quantisation, ...) is an error naming the
 * field and the file, never silently ignored; so is a field it does not know at all. Known
 * harmless fields are accepted: ids, dtype, cache and initialisation settings, GPT-2's
 * sequence-summary head settings, and dropout probabilities (this project trains these
 * architectures without dropout; they do not change the model's function).
 */
final class HfConfig {

    private static final ObjectMapper JSON = new ObjectMapper();
    /** Accepted in every config: bookkeeping that does not change the model's function. */
    private static final Set<String> HARMLESS = Set.of("architectures", "model_type", "_name_or_path",
            "transformers_version", "torch_dtype", "dtype", "use_cache", "initializer_range", "bos_token_id",
            "eos_token_id", "pad_token_id", "tokenizer_class", "output_attentions", "output_hidden_states",
            "return_dict", "is_decoder", "id2label", "label2id");
    private static final Set<String> LLAMA = Set.of("vocab_size", "hidden_size", "intermediate_size",
            "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
            "rms_norm_eps", "rope_theta", "rope_scaling", "rope_parameters", "hidden_act", "tie_word_embeddings",
            "attention_bias", "mlp_bias", "attention_dropout", "pretraining_tp", "rope_interleaved", "is_llama_config");
    private static final Set<String> QWEN2_EXTRA = Set.of("use_sliding_window", "sliding_window", "max_window_layers",
            "layer_types", "use_mrope");
    private static final Set<String> MISTRAL_EXTRA = Set.of("sliding_window");
    private static final Set<String> GPT2 = Set.of("vocab_size", "n_embd", "n_layer", "n_head", "n_positions", "n_ctx",
            "n_inner", "activation_function", "layer_norm_epsilon", "resid_pdrop", "embd_pdrop", "attn_pdrop",
            "scale_attn_weights", "scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "tie_word_embeddings",
            "add_cross_attention", "summary_type", "summary_use_proj", "summary_activation", "summary_proj_to_labels",
            "summary_first_dropout", "task_specific_params");

    private HfConfig() {
    }

    /**
     * The layer {@code config} describes, built for sequence length {@code length}.
     *
     * @param file where the config came from, for messages
     * @throws HfFormatException naming the field and the file
     */
    static LanguageModelLayer layer(JsonNode config, String file, int length) throws HfFormatException {
        Reader r = new Reader(config, file);
        String type = r.string("model_type", null);
        if (type == null) {
            throw new HfFormatException(file + ": no model_type (expected llama, qwen2, mistral or gpt2)");
        }
        LanguageModelLayer layer = switch (type) {
            case "llama", "qwen2", "mistral" -> llama(r, type, length);
            case "gpt2" -> gpt2(r, length);
            default -> throw new HfFormatException(file + ": model_type '" + type + "' is not supported (llama, qwen2,"
                    + " mistral and gpt2 are)");
        };
        return layer;
    }

    private static LanguageModelLayer llama(Reader r, String type, int length) throws HfFormatException {
        Set<String> known = new TreeSet<>(LLAMA);
        if (type.equals("qwen2")) {
            known.addAll(QWEN2_EXTRA);
        } else if (type.equals("mistral")) {
            known.addAll(MISTRAL_EXTRA);
        }
        r.requireKnown(known, type);
        r.requireValue("hidden_act", "silu", "silu");
        r.requireNull("rope_scaling");
        r.requireFalse("rope_interleaved"); // nanotron's exports (SmolLM) say which rotary layout they use
        r.requireFalse("mlp_bias");
        if (type.equals("llama")) {
            r.requireFalse("attention_bias"); // Llama's attention_bias also puts a bias on o_proj
        } else {
            r.requireNull("attention_bias");
        }
        if (type.equals("mistral")) {
            r.requireNull("sliding_window");
        }
        if (type.equals("qwen2")) {
            r.requireFalse("use_sliding_window"); // then sliding_window and max_window_layers have no effect
            r.requireFalse("use_mrope");
            JsonNode layerTypes = r.config.get("layer_types");
            if (layerTypes != null && !layerTypes.isNull()) {
                for (JsonNode t : layerTypes) {
                    if (!t.asText().equals("full_attention")) {
                        throw new HfFormatException(r.file + ": layer_types contains '" + t.asText()
                                + "'; only full_attention is implemented");
                    }
                }
            }
        }
        double theta = r.number("rope_theta", 10000.0);
        JsonNode ropeParameters = r.config.get("rope_parameters"); // transformers 5's home of rope_theta
        if (ropeParameters != null && !ropeParameters.isNull()) {
            Iterator<String> names = ropeParameters.fieldNames();
            while (names.hasNext()) {
                String name = names.next();
                if (!name.equals("rope_theta") && !name.equals("rope_type")) {
                    throw new HfFormatException(r.file + ": rope_parameters." + name + " is not implemented (only"
                            + " the default rotary embedding with rope_theta is)");
                }
            }
            if (!ropeParameters.path("rope_type").asText("default").equals("default")) {
                throw new HfFormatException(r.file + ": rope_parameters.rope_type '"
                        + ropeParameters.path("rope_type").asText() + "' is not implemented (only default is)");
            }
            theta = ropeParameters.path("rope_theta").asDouble(theta);
        }
        int hidden = r.integer("hidden_size");
        int heads = r.integer("num_attention_heads");
        int kvHeads = r.integer("num_key_value_heads", heads);
        Integer headDim = r.optionalInteger("head_dim");
        if (headDim == null) {
            if (heads < 1 || hidden % heads != 0) {
                throw new HfFormatException(r.file + ": hidden_size " + hidden + " is not divisible by"
                        + " num_attention_heads " + heads);
            }
            headDim = hidden / heads;
        }
        int maxPositions = r.integer("max_position_embeddings");
        r.requireLength(length, maxPositions, "max_position_embeddings");
        try {
            LlamaConfig c = new LlamaConfig(r.integer("vocab_size"), hidden, r.integer("intermediate_size"),
                    r.integer("num_hidden_layers"), heads, kvHeads, headDim, r.number("rms_norm_eps", 1e-6), theta,
                    r.bool("tie_word_embeddings", false), type.equals("qwen2"), maxPositions);
            return new LlamaModel(c, length);
        } catch (IllegalArgumentException e) {
            throw new HfFormatException(r.file + ": " + e.getMessage(), e);
        }
    }

    private static LanguageModelLayer gpt2(Reader r, int length) throws HfFormatException {
        r.requireKnown(GPT2, "gpt2");
        r.requireValue("activation_function", "gelu_new", "gelu_new");
        r.requireTrue("scale_attn_weights");
        r.requireFalse("scale_attn_by_inverse_layer_idx");
        r.requireFalse("reorder_and_upcast_attn");
        r.requireFalse("add_cross_attention");
        if (!r.bool("tie_word_embeddings", true)) {
            throw new HfFormatException(r.file + ": tie_word_embeddings false is not implemented for gpt2 (its head"
                    + " is the token embedding)");
        }
        int width = r.integer("n_embd");
        Integer inner = r.optionalInteger("n_inner");
        int positions = r.integer("n_positions");
        r.requireLength(length, positions, "n_positions");
        try {
            Gpt2Config c = new Gpt2Config(r.integer("vocab_size"), width, r.integer("n_layer"), r.integer("n_head"),
                    inner == null ? 4 * width : inner, positions, r.number("layer_norm_epsilon", 1e-5));
            return new Gpt2Model(c, length);
        } catch (IllegalArgumentException e) {
            throw new HfFormatException(r.file + ": " + e.getMessage(), e);
        }
    }

    /**
     * A {@code config.json} for a model trained from scratch, as transformers would write it for
     * the same architecture ({@code qwen2} for a llama with q/k/v biases, which is what Qwen2 is).
     */
    static ObjectNode generate(LanguageModelLayer layer, String torchDtype) {
        ObjectNode c = JSON.createObjectNode();
        if (layer instanceof LlamaModel llama) {
            LlamaConfig l = llama.config();
            String type = l.qkvBias() ? "qwen2" : "llama";
            c.putArray("architectures").add(l.qkvBias() ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
            c.put("model_type", type);
            c.put("vocab_size", l.vocabSize());
            c.put("hidden_size", l.hiddenSize());
            c.put("intermediate_size", l.intermediateSize());
            c.put("num_hidden_layers", l.layers());
            c.put("num_attention_heads", l.heads());
            c.put("num_key_value_heads", l.kvHeads());
            c.put("head_dim", l.headDim());
            c.put("max_position_embeddings", l.maxPositions());
            c.put("rms_norm_eps", l.rmsNormEps());
            c.put("rope_theta", l.ropeTheta());
            c.putNull("rope_scaling");
            c.put("hidden_act", "silu");
            c.put("tie_word_embeddings", l.tiedEmbeddings());
            if (l.qkvBias()) {
                c.put("use_sliding_window", false);
            } else {
                c.put("attention_bias", false);
                c.put("mlp_bias", false);
            }
        } else if (layer instanceof Gpt2Model gpt2) {
            Gpt2Config g = gpt2.config();
            c.putArray("architectures").add("GPT2LMHeadModel");
            c.put("model_type", "gpt2");
            c.put("vocab_size", g.vocabSize());
            c.put("n_embd", g.width());
            c.put("n_layer", g.layers());
            c.put("n_head", g.heads());
            c.put("n_positions", g.positions());
            c.put("n_ctx", g.positions());
            c.put("n_inner", g.inner());
            c.put("activation_function", "gelu_new");
            c.put("layer_norm_epsilon", g.layerNormEps());
            c.put("resid_pdrop", 0.0);
            c.put("embd_pdrop", 0.0);
            c.put("attn_pdrop", 0.0);
            c.put("scale_attn_weights", true);
            c.put("tie_word_embeddings", true);
        } else {
            throw new IllegalArgumentException("no Hugging Face configuration for " + layer.getClass().getName());
        }
        c.put("torch_dtype", torchDtype);
        return c;
    }

    /** Typed access to the fields of one config, with errors naming the field and the file. */
    private static final class Reader {
        final JsonNode config;
        final String file;

        Reader(JsonNode config, String file) throws HfFormatException {
            if (config == null || !config.isObject()) {
                throw new HfFormatException(file + ": not a JSON object");
            }
            this.config = config;
            this.file = file;
        }

        void requireKnown(Set<String> fields, String type) throws HfFormatException {
            List<String> unknown = new ArrayList<>();
            config.fieldNames().forEachRemaining(name -> {
                if (!fields.contains(name) && !HARMLESS.contains(name)) {
                    unknown.add(name);
                }
            });
            if (!unknown.isEmpty()) {
                throw new HfFormatException(file + ": field" + (unknown.size() > 1 ? "s " : " ") + unknown
                        + " not implemented by this project's " + type + " import (refused rather than ignored)");
            }
        }

        String string(String field, String otherwise) throws HfFormatException {
            JsonNode v = config.get(field);
            if (v == null || v.isNull()) {
                return otherwise;
            }
            if (!v.isTextual()) {
                throw new HfFormatException(file + ": " + field + " must be a string, got " + v);
            }
            return v.asText();
        }

        int integer(String field) throws HfFormatException {
            Integer v = optionalInteger(field);
            if (v == null) {
                throw new HfFormatException(file + ": " + field + " is missing");
            }
            return v;
        }

        int integer(String field, int otherwise) throws HfFormatException {
            Integer v = optionalInteger(field);
            return v == null ? otherwise : v;
        }

        Integer optionalInteger(String field) throws HfFormatException {
            JsonNode v = config.get(field);
            if (v == null || v.isNull()) {
                return null;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new HfFormatException(file + ": " + field + " must be an integer, got " + v);
            }
            return v.asInt();
        }

        double number(String field, double otherwise) throws HfFormatException {
            JsonNode v = config.get(field);
            if (v == null || v.isNull()) {
                return otherwise;
            }
            if (!v.isNumber()) {
                throw new HfFormatException(file + ": " + field + " must be a number, got " + v);
            }
            return v.asDouble();
        }

        boolean bool(String field, boolean otherwise) throws HfFormatException {
            JsonNode v = config.get(field);
            if (v == null || v.isNull()) {
                return otherwise;
            }
            if (!v.isBoolean()) {
                throw new HfFormatException(file + ": " + field + " must be true or false, got " + v);
            }
            return v.asBoolean();
        }

        void requireValue(String field, String expected, String otherwise) throws HfFormatException {
            String v = string(field, otherwise);
            if (!expected.equals(v)) {
                throw new HfFormatException(file + ": " + field + " '" + v + "' is not implemented (only "
                        + expected + " is)");
            }
        }

        void requireNull(String field) throws HfFormatException {
            JsonNode v = config.get(field);
            if (v != null && !v.isNull() && !(v.isBoolean() && !v.asBoolean())) {
                throw new HfFormatException(file + ": " + field + " is " + v + ", which is not implemented (it must"
                        + " be null or absent)");
            }
        }

        void requireFalse(String field) throws HfFormatException {
            if (bool(field, false)) {
                throw new HfFormatException(file + ": " + field + " true is not implemented (it must be false or"
                        + " absent)");
            }
        }

        void requireTrue(String field) throws HfFormatException {
            if (!bool(field, true)) {
                throw new HfFormatException(file + ": " + field + " false is not implemented (it must be true or"
                        + " absent)");
            }
        }

        void requireLength(int length, int maxPositions, String field) throws HfFormatException {
            if (length < 1 || length > maxPositions) {
                throw new HfFormatException(file + ": the model handles at most " + field + " = " + maxPositions
                        + " positions; sequence length (model.maxLength) " + length + " must lie in 1.." + maxPositions);
            }
        }
    }
}
