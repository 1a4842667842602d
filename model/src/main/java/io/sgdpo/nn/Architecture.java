package io.sgdpo.nn;

import io.sgdpo.config.ConfigurationException;
import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The decoder architectures a model can have ({@code model.architecture}).
 * <ul>
 *   <li>{@link #DECODER}: the project's own small GPT-style {@link Decoder} (the default);</li>
 *   <li>{@link #LLAMA}: the Llama family ({@link io.sgdpo.nn.llama.LlamaModel}): Llama 2/3, Qwen2,
 *       SmolLM, Mistral without sliding window, TinyLlama;</li>
 *   <li>{@link #GPT2}: transformers' GPT-2 ({@link io.sgdpo.nn.gpt2.Gpt2Model}).</li>
 * </ul>
 */
public enum Architecture {
    DECODER, LLAMA, GPT2;

    /** The name in configuration files ({@code decoder}, {@code llama}, {@code gpt2}). */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @throws ConfigurationException naming {@code model.architecture} and the valid values
     */
    public static Architecture fromConfigName(String name) {
        for (Architecture a : values()) {
            if (a.configName().equals(name)) {
                return a;
            }
        }
        throw new ConfigurationException("model.architecture must be one of "
                + Arrays.stream(values()).map(Architecture::configName).collect(Collectors.joining(", "))
                + "; got '" + name + "'");
    }
}
