package io.sgdpo.nn;

import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which Hugging Face checkpoint tensor each parameter of a {@link LanguageModelLayer} is: a name
 * map, nanoGPT-style, used in both directions (import and export). No transposes are needed: each
 * architecture stores its matrices exactly as transformers does ({@code [out, in]} for nn.Linear,
 * {@code [in, out]} for GPT-2's Conv1D) and multiplies them accordingly; a bias or norm gain is
 * {@code [1, n]} here and {@code [n]} in the checkpoint, the same numbers in the same order.
 *
 * @param prefix  the prefix transformers' {@code save_pretrained} writes before the base model's
 *                tensors ({@code model.} for Llama, {@code transformer.} for GPT-2); checkpoints
 *                without it are read too
 * @param entries one per parameter, the token embedding first
 * @param ignored checkpoint tensors that are buffers, not parameters (GPT-2's causal-mask
 *                {@code attn.bias}, old Llama {@code rotary_emb.inv_freq}), matched against the name
 *                without prefix; they are skipped on import and not written on export
 */
public record WeightTable(String prefix, List<Entry> entries, List<Pattern> ignored) {

    public WeightTable {
        entries = List.copyOf(entries);
        ignored = List.copyOf(ignored);
    }

    /**
     * @param param    parameter name in the layer (e.g. {@code l0Q})
     * @param hfName   checkpoint tensor name without the prefix (e.g. {@code layers.0.self_attn.q_proj.weight})
     * @param hfShape  the tensor's shape in the checkpoint
     * @param prefixed whether the tensor belongs to the base model and carries the prefix ({@code
     *                 lm_head.weight} does not)
     */
    public record Entry(String param, String hfName, long[] hfShape, boolean prefixed) {

        public Entry {
            hfShape = hfShape.clone();
        }

        /** The tensor's full name as {@code save_pretrained} writes it. */
        public String fullName(String prefix) {
            return prefixed ? prefix + hfName : hfName;
        }

        /** Number of elements. */
        public long length() {
            long n = 1;
            for (long s : hfShape) {
                n *= s;
            }
            return n;
        }

        @Override
        public long[] hfShape() {
            return hfShape.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e && param.equals(e.param) && hfName.equals(e.hfName)
                    && Arrays.equals(hfShape, e.hfShape) && prefixed == e.prefixed;
        }

        @Override
        public int hashCode() {
            return 31 * (31 * param.hashCode() + hfName.hashCode()) + Arrays.hashCode(hfShape);
        }

        @Override
        public String toString() {
            return param + " <-> " + hfName + Arrays.toString(hfShape);
        }
    }

    /** Whether a checkpoint tensor (name without prefix) is a buffer to skip. */
    public boolean isIgnored(String hfName) {
        return ignored.stream().anyMatch(p -> p.matcher(hfName).matches());
    }

    /** An entry of a base-model tensor. */
    public static Entry base(String param, String hfName, long... hfShape) {
        return new Entry(param, hfName, hfShape, true);
    }

    /** An entry of a tensor outside the base model (the untied head). */
    public static Entry top(String param, String hfName, long... hfShape) {
        return new Entry(param, hfName, hfShape, false);
    }
}
