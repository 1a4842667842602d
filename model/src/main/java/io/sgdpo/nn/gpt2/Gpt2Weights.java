package io.sgdpo.nn.gpt2;

import static io.sgdpo.nn.WeightTable.base;

import io.sgdpo.nn.WeightTable;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * GPT-2's table: each parameter of {@link Gpt2Model} and its transformers tensor. Conv1D weights
 * are {@code [in, out]} on both sides; the head is {@code wte} and has no tensor of its own.
 */
final class Gpt2Weights {

    private Gpt2Weights() {
    }

    static WeightTable table(Gpt2Config c) {
        long d = c.width();
        long inner = c.inner();
        List<WeightTable.Entry> e = new ArrayList<>();
        e.add(base(Gpt2Model.WTE, "wte.weight", c.vocabSize(), d));
        e.add(base(Gpt2Model.WPE, "wpe.weight", c.positions(), d));
        for (int i = 0; i < c.layers(); i++) {
            String h = "h." + i + ".";
            e.add(base(Gpt2Block.param(i, Gpt2Block.LN1_GAIN), h + "ln_1.weight", d));
            e.add(base(Gpt2Block.param(i, Gpt2Block.LN1_BIAS), h + "ln_1.bias", d));
            e.add(base(Gpt2Block.param(i, Gpt2Block.ATTN), h + "attn.c_attn.weight", d, 3 * d));
            e.add(base(Gpt2Block.param(i, Gpt2Block.ATTN_BIAS), h + "attn.c_attn.bias", 3 * d));
            e.add(base(Gpt2Block.param(i, Gpt2Block.ATTN_PROJ), h + "attn.c_proj.weight", d, d));
            e.add(base(Gpt2Block.param(i, Gpt2Block.ATTN_PROJ_BIAS), h + "attn.c_proj.bias", d));
            e.add(base(Gpt2Block.param(i, Gpt2Block.LN2_GAIN), h + "ln_2.weight", d));
            e.add(base(Gpt2Block.param(i, Gpt2Block.LN2_BIAS), h + "ln_2.bias", d));
            e.add(base(Gpt2Block.param(i, Gpt2Block.FC), h + "mlp.c_fc.weight", d, inner));
            e.add(base(Gpt2Block.param(i, Gpt2Block.FC_BIAS), h + "mlp.c_fc.bias", inner));
            e.add(base(Gpt2Block.param(i, Gpt2Block.MLP_PROJ), h + "mlp.c_proj.weight", inner, d));
            e.add(base(Gpt2Block.param(i, Gpt2Block.MLP_PROJ_BIAS), h + "mlp.c_proj.bias", d));
        }
        e.add(base(Gpt2Model.LNF_GAIN, "ln_f.weight", d));
        e.add(base(Gpt2Model.LNF_BIAS, "ln_f.bias", d));
        return new WeightTable("transformer.", e, List.of(Pattern.compile("h\\.\\d+\\.attn\\.(masked_)?bias")));
    }
}
