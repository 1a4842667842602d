package io.sgdpo.nn.llama;

import static io.sgdpo.nn.WeightTable.base;
import static io.sgdpo.nn.WeightTable.top;

import io.sgdpo.nn.WeightTable;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/** The Llama family's table: each parameter of {@link LlamaModel} and its transformers tensor. */
final class LlamaWeights {

    private LlamaWeights() {
    }

    static WeightTable table(LlamaConfig c) {
        long d = c.hiddenSize();
        long q = c.queryWidth();
        long kv = c.kvWidth();
        long ffn = c.intermediateSize();
        List<WeightTable.Entry> e = new ArrayList<>();
        e.add(base(LlamaModel.EMBED, "embed_tokens.weight", c.vocabSize(), d));
        for (int i = 0; i < c.layers(); i++) {
            String layer = "layers." + i + ".";
            e.add(base(LlamaBlock.param(i, LlamaBlock.ATTN_NORM), layer + "input_layernorm.weight", d));
            e.add(base(LlamaBlock.param(i, LlamaBlock.Q), layer + "self_attn.q_proj.weight", q, d));
            e.add(base(LlamaBlock.param(i, LlamaBlock.K), layer + "self_attn.k_proj.weight", kv, d));
            e.add(base(LlamaBlock.param(i, LlamaBlock.V), layer + "self_attn.v_proj.weight", kv, d));
            if (c.qkvBias()) {
                e.add(base(LlamaBlock.param(i, LlamaBlock.Q_BIAS), layer + "self_attn.q_proj.bias", q));
                e.add(base(LlamaBlock.param(i, LlamaBlock.K_BIAS), layer + "self_attn.k_proj.bias", kv));
                e.add(base(LlamaBlock.param(i, LlamaBlock.V_BIAS), layer + "self_attn.v_proj.bias", kv));
            }
            e.add(base(LlamaBlock.param(i, LlamaBlock.O), layer + "self_attn.o_proj.weight", d, q));
            e.add(base(LlamaBlock.param(i, LlamaBlock.MLP_NORM), layer + "post_attention_layernorm.weight", d));
            e.add(base(LlamaBlock.param(i, LlamaBlock.GATE), layer + "mlp.gate_proj.weight", ffn, d));
            e.add(base(LlamaBlock.param(i, LlamaBlock.UP), layer + "mlp.up_proj.weight", ffn, d));
            e.add(base(LlamaBlock.param(i, LlamaBlock.DOWN), layer + "mlp.down_proj.weight", d, ffn));
        }
        e.add(base(LlamaModel.NORM, "norm.weight", d));
        if (!c.tiedEmbeddings()) {
            e.add(top(LlamaModel.HEAD, "lm_head.weight", c.vocabSize(), d));
        }
        return new WeightTable("model.", e, List.of(Pattern.compile("layers\\.\\d+\\.self_attn\\.rotary_emb\\.inv_freq")));
    }
}
