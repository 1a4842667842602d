#!/usr/bin/python3
"""The PyTorch peer of the project's benchmarks: the same models, loss, batch and optimizer.

    torch_peer.py run --arch gpt|llama --d D --layers L --heads H [--kv-heads K] [--ffn F]
                      --vocab V --length T --figure train|ref|gen|gen-nocache --batch FILE
                      [--warmups W] [--repeats R] [--steps S] [--gen-tokens N] [--threads 2]
                      [--lr 1e-4] [--beta 0.1] [--label-smoothing 0] [--seed 42] [--out FILE]
    torch_peer.py matmul [--size 1024] [--timed 7] [--threads 2] [--out FILE]
    torch_peer.py selfcheck [--models DIR] [--dump DIR]

Run it with Debian's python3 (`apt-get install python3-torch libopenblas0-pthread`, PyTorch 1.13):
without libopenblas0-pthread PyTorch falls back to the reference BLAS (about 30x slower). `sgdpo
bench-peer` (and so bench/run) calls it once per (shape, figure, round), each in a fresh process,
so that the peak resident memory it reports belongs to that figure alone.

The models mirror the project's:
- gpt: io.sgdpo.nn.Decoder. Token embedding without bias, learned positions, pre-norm blocks
  (layer norm without epsilon, as ND4J's, causal multi-head attention with separate q/k/v/o projections and biases, additive
  -1e9 mask above the diagonal, softmax; layer norm, MLP d -> 4d -> d with biases), final layer
  norm, untied output head with bias. The MLP's activation is ND4J's `gelu` as SameDiff's
  `sd.nn().gelu` computes it: the sigmoid approximation x * sigmoid(1.702 x), not the erf or tanh
  forms.
- llama: RMSNorm, rotate-half RoPE (theta 10000), grouped-query attention (kv heads shared by
  heads / kv-heads query heads), SwiGLU MLP (w2(silu(w1 x) * w3 x)), no biases, head tied to the
  token embedding. `selfcheck` checks it against stories260K's reference log-probs.

Loss: SGDPO exactly as ../shared/docs/SGDPO.md and io.sgdpo.loss.SgdpoLoss define it, over the
paired layout of io.sgdpo.nn.PairedBatch (B chosen rows, then B rejected rows, right-padded to T;
input t is token t, target t is token t+1; response targets carry reference log-probs; pilot
positions as drawn by the project and written into the batch file). Optimizer: Adam (beta1 0.9,
beta2 0.999, eps 1e-8, as DL4J's Adam) with the same learning rate. float32 throughout.

Figures (each repeat times `--steps` units of work after `--warmups` untimed ones):
- train: one optimizer step on the paired minibatch (forward, log-softmax read-out, SGDPO loss,
  backward, Adam); work = 2B x T positions per step.
- ref: forward without gradient and the per-token log-probs of every response token (the
  reference pass); work = 2B x T positions.
- gen: greedy generation of --gen-tokens new tokens for the batch's generation prompts with a
  key/value cache (PyTorch's usual way: prompt once, then one token per forward); work = tokens.
- gen-nocache: the same without a cache: every new token reruns the forward over the unpadded
  prefix.
Peak memory: ru_maxrss of this process (its own peak; the process runs one figure only).
"""

import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

INIT_STD = 0.02
# ND4J's layer_norm (libnd4j's standardize) divides by the standard deviation with no epsilon; a
# tiny one keeps PyTorch's formula and changes nothing at float32 precision.
ND4J_LAYER_NORM_EPS = 1e-12


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

def nd4j_gelu(x):
    """ND4J's gelu (libnd4j simdOps::GELU): x * sigmoid(1.702 x)."""
    return x * torch.sigmoid(1.702 * x)


class GptBlock(nn.Module):
    def __init__(self, d, heads, length):
        super().__init__()
        self.d, self.heads = d, heads
        self.ln1 = nn.LayerNorm(d, eps=ND4J_LAYER_NORM_EPS)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=ND4J_LAYER_NORM_EPS)
        self.w1 = nn.Linear(d, 4 * d)
        self.w2 = nn.Linear(4 * d, d)
        bias = torch.triu(torch.full((length, length), -1e9), diagonal=1)
        self.register_buffer("causal", bias, persistent=False)

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.d // self.heads).transpose(1, 2)

    def forward(self, x, cache=None):
        b, t, _ = x.shape
        h = self.ln1(x)
        q, k, v = self.split(self.q(h)), self.split(self.k(h)), self.split(self.v(h))
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.d / self.heads))
        if t > 1:  # one new token (cached generation) sees every earlier position: no mask needed
            start = k.shape[2] - t
            scores = scores + self.causal[start:start + t, :k.shape[2]]
        att = torch.softmax(scores, dim=-1) @ v
        x = x + self.o(att.transpose(1, 2).reshape(b, t, self.d))
        return x + self.w2(nd4j_gelu(self.w1(self.ln2(x))))


class Gpt(nn.Module):
    """io.sgdpo.nn.Decoder in PyTorch."""

    def __init__(self, vocab, d, layers, heads, length):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.zeros(length, d))
        self.blocks = nn.ModuleList(GptBlock(d, heads, length) for _ in range(layers))
        self.norm = nn.LayerNorm(d, eps=ND4J_LAYER_NORM_EPS)
        self.head = nn.Linear(d, vocab)
        init_weights(self)

    def forward(self, ids, caches=None, start=0, rows=None):
        """Logits [B, T, V]; with rows (a [B, T] mask), the logits [rows.sum(), V] of those positions only."""
        t = ids.shape[1]
        x = self.embed(ids) + self.pos[start:start + t]
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        x = self.norm(x)
        return self.head(x if rows is None else x[rows])


class RmsNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class LlamaBlock(nn.Module):
    def __init__(self, d, heads, kv_heads, ffn, length):
        super().__init__()
        self.d, self.heads, self.kv_heads, self.hd = d, heads, kv_heads, d // heads
        self.ln1 = RmsNorm(d)
        self.q = nn.Linear(d, heads * self.hd, bias=False)
        self.k = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.v = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.o = nn.Linear(heads * self.hd, d, bias=False)
        self.ln2 = RmsNorm(d)
        self.w1 = nn.Linear(d, ffn, bias=False)  # gate
        self.w3 = nn.Linear(d, ffn, bias=False)  # up
        self.w2 = nn.Linear(ffn, d, bias=False)  # down
        bias = torch.triu(torch.full((length, length), -1e9), diagonal=1)
        self.register_buffer("causal", bias, persistent=False)

    def forward(self, x, cos, sin, cache=None):
        b, t, _ = x.shape
        h = self.ln1(x)
        q = self.q(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        group = self.heads // self.kv_heads
        if group > 1:
            k = k.repeat_interleave(group, dim=1)
            v = v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hd))
        if t > 1:
            start = k.shape[2] - t
            scores = scores + self.causal[start:start + t, :k.shape[2]]
        att = torch.softmax(scores, dim=-1) @ v
        x = x + self.o(att.transpose(1, 2).reshape(b, t, self.heads * self.hd))
        h2 = self.ln2(x)
        return x + self.w2(F.silu(self.w1(h2)) * self.w3(h2))


class Llama(nn.Module):
    """A Llama decoder (Hugging Face's LlamaForCausalLM layout, rotate-half RoPE), head tied."""

    def __init__(self, vocab, d, layers, heads, kv_heads, ffn, length, theta=10000.0):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList(LlamaBlock(d, heads, kv_heads, ffn, length) for _ in range(layers))
        self.norm = RmsNorm(d)
        hd = d // heads
        inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        angles = torch.outer(torch.arange(length, dtype=torch.float32), inv)
        angles = torch.cat([angles, angles], dim=-1)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)
        init_weights(self)

    def forward(self, ids, caches=None, start=0):
        t = ids.shape[1]
        x = self.embed(ids)
        cos, sin = self.cos[start:start + t], self.sin[start:start + t]
        for i, block in enumerate(self.blocks):
            x = block(x, cos, sin, None if caches is None else caches[i])
        return F.linear(self.norm(x), self.embed.weight)


def init_weights(model):
    """The project's initialisation (io.sgdpo.nn.Init): weights N(0, 0.02), biases 0, norm gains 1."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.LayerNorm, RmsNorm)):
                m.weight.fill_(1.0)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()
            elif isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.normal_(0.0, INIT_STD)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()
        if isinstance(model, Gpt):
            model.pos.normal_(0.0, INIT_STD)


def build_model(args):
    if args.arch == "gpt":
        return Gpt(args.vocab, args.d, args.layers, args.heads, args.length)
    if args.arch == "llama":
        return Llama(args.vocab, args.d, args.layers, args.heads, args.kv_heads or args.heads,
                     args.ffn, args.length)
    raise SystemExit("unknown --arch " + args.arch)


# ---------------------------------------------------------------------------------------------
# The paired batch (io.sgdpo.nn.PairedBatch) and the SGDPO loss (io.sgdpo.loss.SgdpoLoss)
# ---------------------------------------------------------------------------------------------

class PairedTensors:
    """B pairs as 2B rows of length T: ids, targets, response mask, reference log-probs, pilots."""

    def __init__(self, pairs, length, pad):
        rows = 2 * len(pairs)
        self.pairs = len(pairs)
        self.ids = torch.full((rows, length), pad, dtype=torch.long)
        self.targets = torch.full((rows, length), pad, dtype=torch.long)
        self.response = torch.zeros(rows, length)
        self.reference = torch.zeros(rows, length)
        self.pilot = torch.zeros(rows, length)
        b = len(pairs)
        for i, p in enumerate(pairs):
            self._row(i, p["prompt"], p["chosen"], p["refChosen"], p["pilotChosen"], length)
            self._row(i + b, p["prompt"], p["rejected"], p["refRejected"], p["pilotRejected"], length)

    def _row(self, row, prompt, response, ref, pilots, length):
        seq = list(prompt) + list(response)
        if len(seq) - 1 > length:
            raise SystemExit("pair longer than the model's length T")
        n = len(seq) - 1
        self.ids[row, :n] = torch.tensor(seq[:-1])
        self.targets[row, :n] = torch.tensor(seq[1:])
        start = len(prompt) - 1  # response token j is the target at t = len(prompt) - 1 + j
        self.response[row, start:start + len(response)] = 1
        self.reference[row, start:start + len(response)] = torch.tensor(ref, dtype=torch.float32)
        for j in pilots:
            self.pilot[row, start + j] = 1


def token_logprobs(logits, targets):
    """log-softmax at the targets: [rows, T]."""
    return torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def response_logprobs(model, batch):
    """[rows, T] log-probs at the response targets, 0 elsewhere. For the project's decoder (gpt) the
    head's product and the log-softmax are taken for the response positions only, as the project
    does in training and scoring (io.sgdpo.nn.VocabularyHead, SequenceLogProbs); the Llama models,
    whose head the project runs inside their SameDiff layer, take every position as it does."""
    if not isinstance(model, Gpt):
        return token_logprobs(model(batch.ids), batch.targets)
    keep = batch.response > 0
    tok = token_logprobs(model(batch.ids, rows=keep), batch.targets[keep])
    return torch.zeros(keep.shape, dtype=tok.dtype).masked_scatter(keep, tok)


def smoothed_term(z, eps):
    """-(1 - eps) log sigmoid(z) - eps log sigmoid(-z)."""
    return -(1 - eps) * F.logsigmoid(z) - eps * F.logsigmoid(-z)


def sgdpo_loss(tok, batch, beta, eps):
    """Mean over pairs of 1/2 f(beta u1) + 1/2 f(beta u2), pilots detached (docs/SGDPO.md)."""
    ratio = (tok - batch.reference) * batch.response
    seq = ratio.sum(-1)
    pilot = (ratio * batch.pilot).sum(-1).detach()
    b = batch.pairs
    u1 = seq[:b] - pilot[b:]
    u2 = pilot[:b] - seq[b:]
    loss = (0.5 * smoothed_term(beta * u1, eps) + 0.5 * smoothed_term(beta * u2, eps)).mean()
    with torch.no_grad():  # TRL-named metrics from the same forward pass, full-sequence rewards
        chosen, rejected = beta * seq[:b], beta * seq[b:]
        metrics = (chosen.mean(), rejected.mean(), (chosen > rejected).float().mean())
    return loss, metrics


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------

def greedy(model, prompts, new_tokens, cache):
    """Greedy continuation of equal-length prompts, never stopping early; returns the new ids."""
    ids = torch.tensor(prompts, dtype=torch.long)
    out = []
    with torch.no_grad():
        if cache:
            caches = [dict() for _ in model.blocks]
            logits = model(ids, caches, 0)
            pos = ids.shape[1]
            for _ in range(new_tokens):
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                out.append(nxt)
                logits = model(nxt, caches, pos)
                pos += 1
        else:
            seq = ids
            for _ in range(new_tokens):
                nxt = model(seq)[:, -1].argmax(-1, keepdim=True)
                out.append(nxt)
                seq = torch.cat([seq, nxt], dim=1)
    return torch.cat(out, dim=1)


def figure_work(args, batch_file):
    """(a function doing one unit of work, the work it counts, its unit, the model's parameter count)."""
    torch.manual_seed(args.seed)
    model = build_model(args)
    count = sum(p.numel() for p in model.parameters())
    pairs = batch_file["pairs"]
    batch = PairedTensors(pairs, args.length, batch_file["pad"])
    positions = 2 * len(pairs) * args.length
    if args.figure == "train":
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)

        def step():
            optimizer.zero_grad(set_to_none=True)
            loss, metrics = sgdpo_loss(response_logprobs(model, batch), batch, args.beta, args.label_smoothing)
            loss.backward()
            optimizer.step()
            return loss.item(), [m.item() for m in metrics]
        return step, positions, "positions", count
    model.eval()
    if args.figure == "ref":
        def ref():
            with torch.no_grad():
                # the per-token log-probs of every response token, as Python lists (what ref-logps keeps)
                batch_now = PairedTensors(pairs, args.length, batch_file["pad"])
                tok = response_logprobs(model, batch_now)
                return [tok[r][batch_now.response[r] > 0].tolist() for r in range(tok.shape[0])]
        return ref, positions, "positions", count
    if args.figure in ("gen", "gen-nocache"):
        prompts = batch_file["genPrompts"]
        if len(prompts[0]) + args.gen_tokens > args.length:
            raise SystemExit("prompt + generated tokens exceed the model's length")
        cache = args.figure == "gen"
        return (lambda: greedy(model, prompts, args.gen_tokens, cache)), len(prompts) * args.gen_tokens, "tokens", count
    raise SystemExit("unknown --figure " + args.figure)


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def blas_library():
    """The BLAS shared object this process mapped (the reference BLAS is 30x slower than OpenBLAS)."""
    found = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                name = os.path.basename(path)
                if "blas" in name or "lapack" in name:
                    found.add(os.path.realpath(path))
    except OSError:
        pass
    return sorted(found)


def environment(threads):
    return {"torch": torch.__version__, "python": sys.version.split()[0], "threads": torch.get_num_threads(),
            "interopThreads": torch.get_num_interop_threads(), "requestedThreads": threads,
            "blas": blas_library(), "mkldnn": torch.backends.mkldnn.is_available(),
            "openblasCoretype": os.environ.get("OPENBLAS_CORETYPE")}


def cmd_run(args):
    torch.set_num_threads(args.threads)
    with open(args.batch) as f:
        batch_file = json.load(f)
    t0 = time.perf_counter()
    work_fn, work, unit, parameters = figure_work(args, batch_file)
    setup = time.perf_counter() - t0
    for _ in range(args.warmups):
        for _ in range(args.steps):
            work_fn()
    seconds = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        for _ in range(args.steps):
            work_fn()
        seconds.append(time.perf_counter() - t)
    result = {"side": "pytorch", "figure": args.figure, "arch": args.arch, "unit": unit,
              "workPerRepeat": work * args.steps, "steps": args.steps, "warmups": args.warmups,
              "seconds": seconds, "setupSeconds": setup, "peakRssBytes": peak_rss_bytes(),
              "kvCache": args.figure == "gen", "parameters": parameters,
              "environment": environment(args.threads)}
    write(args.out, result)


def cmd_matmul(args):
    torch.set_num_threads(args.threads)
    n = args.size
    a, b = torch.rand(n, n), torch.rand(n, n)
    c = torch.empty(n, n)
    for _ in range(3):
        torch.mm(a, b, out=c)
    times = []
    for _ in range(args.timed):
        t = time.perf_counter()
        torch.mm(a, b, out=c)
        times.append(time.perf_counter() - t)
    times.sort()
    median = times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2
    write(args.out, {"side": "pytorch", "figure": "matmul", "size": n, "seconds": times,
                     "gflops": 2.0 * n ** 3 / median / 1e9, "peakRssBytes": peak_rss_bytes(),
                     "environment": environment(args.threads)})


# ---------------------------------------------------------------------------------------------
# Self-checks: the Llama peer against stories260K's reference log-probs; the GPT peer and the
# loss against the project's own numbers (a dump written by the Java worker's --dump).
# ---------------------------------------------------------------------------------------------

def read_safetensors(path):
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":
            raise SystemExit("only F32 tensors are read here, got " + meta["dtype"])
        a, b = meta["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype="<f4").reshape(meta["shape"]).copy())
    return out


def check_llama(models):
    folder = os.path.join(models, "stories260K")
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(folder, "reference.json")) as f:
        ref = json.load(f)
    longest = max(len(e["ids"]) for e in ref["logprobs"])
    model = Llama(cfg["vocab_size"], cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"],
                  cfg["num_key_value_heads"], cfg["intermediate_size"], max(longest, 8), cfg["rope_theta"])
    for m in model.modules():
        if isinstance(m, RmsNorm):
            m.eps = cfg["rms_norm_eps"]
    w = read_safetensors(os.path.join(folder, "model.safetensors"))
    state = {"embed.weight": w["model.embed_tokens.weight"], "norm.weight": w["model.norm.weight"]}
    names = {"ln1.weight": "input_layernorm.weight", "ln2.weight": "post_attention_layernorm.weight",
             "q.weight": "self_attn.q_proj.weight", "k.weight": "self_attn.k_proj.weight",
             "v.weight": "self_attn.v_proj.weight", "o.weight": "self_attn.o_proj.weight",
             "w1.weight": "mlp.gate_proj.weight", "w3.weight": "mlp.up_proj.weight",
             "w2.weight": "mlp.down_proj.weight"}
    for i in range(cfg["num_hidden_layers"]):
        for ours, theirs in names.items():
            state[f"blocks.{i}.{ours}"] = w[f"model.layers.{i}.{theirs}"]
    model.load_state_dict(state)
    model.eval()
    worst = 0.0
    with torch.no_grad():
        for e in ref["logprobs"]:
            ids = torch.tensor([e["ids"]])
            tok = token_logprobs(model(ids)[:, :-1], ids[:, 1:])[0]
            worst = max(worst, (tok.double() - torch.tensor(e["token_logprobs"], dtype=torch.float64)).abs().max().item())
        prompt = ref["prompts"][0]
        got = greedy(model, [prompt["ids"]], 8, cache=True)[0].tolist()
        nocache = greedy(model, [prompt["ids"]], 8, cache=False)[0].tolist()
    ok = worst < 1e-4 and got == prompt["greedy_ids"][:8] and nocache == got
    print(f"llama vs stories260K reference: max |log-prob error| {worst:.2e}, greedy (kv cache) {got}, "
          f"expected {prompt['greedy_ids'][:8]}, without cache {'same' if nocache == got else nocache}: "
          + ("OK" if ok else "FAILED"))
    return ok


def check_gpt_dump(folder):
    """The GPT peer and loss against a dump of the project's decoder (PeerWorker --dump)."""
    import numpy as np
    with open(os.path.join(folder, "dump.json")) as f:
        dump = json.load(f)
    s = dump["shape"]
    model = Gpt(s["vocab"], s["d"], s["layers"], s["heads"], s["length"])

    def arr(name):
        meta = dump["arrays"][name]
        return torch.from_numpy(np.fromfile(os.path.join(folder, meta["file"]), dtype="<f4").reshape(meta["shape"]))

    d = s["d"]
    state = {"embed.weight": arr("embed_W"), "pos": arr("pos_wpos").reshape(d, s["length"]).t().contiguous(),
             "norm.weight": arr("norm_gain").reshape(d), "norm.bias": arr("norm_bias").reshape(d),
             "head.weight": arr("lm_W").t().contiguous(), "head.bias": arr("lm_b").reshape(-1)}
    for i in range(s["layers"]):
        pre = f"block{i}_"
        blk = f"blocks.{i}."
        state[blk + "ln1.weight"] = arr(pre + "gln1").reshape(d)
        state[blk + "ln1.bias"] = arr(pre + "bln1").reshape(d)
        state[blk + "ln2.weight"] = arr(pre + "gln2").reshape(d)
        state[blk + "ln2.bias"] = arr(pre + "bln2").reshape(d)
        for n in ("q", "k", "v", "o", "1", "2"):
            ours = n if n in "qkvo" else "w" + n
            state[blk + ours + ".weight"] = arr(pre + "w" + n).t().contiguous()
            state[blk + ours + ".bias"] = arr(pre + "b" + n).reshape(-1)
    model.load_state_dict(state)
    model.eval()
    batch = PairedTensors(dump["batch"]["pairs"], s["length"], dump["batch"]["pad"])
    with torch.no_grad():
        logits = model(batch.ids)
        expected = arr("logits")  # [2B, V, T] as DL4J returns it
        logit_err = (logits - expected.permute(0, 2, 1)).abs().max().item()
        loss, _ = sgdpo_loss(response_logprobs(model, batch), batch, dump["beta"], dump["labelSmoothing"])
    loss_err = abs(loss.item() - dump["score"])
    ok = logit_err < 1e-3 and loss_err < 1e-4 * max(1.0, abs(dump["score"]))
    print(f"gpt vs the project's decoder ({folder}): max |logit error| {logit_err:.2e}, loss {loss.item():.6f} "
          f"vs {dump['score']:.6f}: " + ("OK" if ok else "FAILED"))
    return ok


def cmd_selfcheck(args):
    ok = True
    if os.path.isdir(os.path.join(args.models, "stories260K")):
        ok &= check_llama(args.models)
    else:
        print("no stories260K under " + args.models + ": Llama check skipped")
    if args.dump:
        ok &= check_gpt_dump(args.dump)
    sys.exit(0 if ok else 1)


def write(path, result):
    text = json.dumps(result, indent=1)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument("--arch", choices=["gpt", "llama"], required=True)
    run.add_argument("--d", type=int, required=True)
    run.add_argument("--layers", type=int, required=True)
    run.add_argument("--heads", type=int, required=True)
    run.add_argument("--kv-heads", type=int, default=0)
    run.add_argument("--ffn", type=int, default=0)
    run.add_argument("--vocab", type=int, required=True)
    run.add_argument("--length", type=int, required=True)
    run.add_argument("--figure", choices=["train", "ref", "gen", "gen-nocache"], required=True)
    run.add_argument("--batch", required=True)
    run.add_argument("--warmups", type=int, default=1)
    run.add_argument("--repeats", type=int, default=3)
    run.add_argument("--steps", type=int, default=1)
    run.add_argument("--gen-tokens", type=int, default=16)
    run.add_argument("--threads", type=int, default=2)
    run.add_argument("--lr", type=float, default=1e-4)
    run.add_argument("--beta", type=float, default=0.1)
    run.add_argument("--label-smoothing", type=float, default=0.0)
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--out")
    mm = sub.add_parser("matmul")
    mm.add_argument("--size", type=int, default=1024)
    mm.add_argument("--timed", type=int, default=7)
    mm.add_argument("--threads", type=int, default=2)
    mm.add_argument("--out")
    check = sub.add_parser("selfcheck")
    here = os.path.dirname(os.path.abspath(__file__))
    check.add_argument("--models", default=os.path.normpath(os.path.join(here, "..", "..", "..", "shared", "models")))
    check.add_argument("--dump")
    args = parser.parse_args()
    {"run": cmd_run, "matmul": cmd_matmul, "selfcheck": cmd_selfcheck}[args.command](args)


if __name__ == "__main__":
    main()
