# Kernel-level probe of Conway's decoding on the GPU machine (its PyTorch 2.11 runs the same libtorch kernels that
# TorchSharp calls). It mirrors LifeGpt's decoding path (Pass, Step) with random weights of the real shapes, op for op, in two versions:
# "before" (commit 94e78dd) and "now", and prints where a speculative pass spends its device time and what one plain
# decode step costs on the GPU alone (CUDA-graph replay, no host overhead). docs/PERFORMANCE.md quotes its output.
# There: python3 gpu/probe.py [pass] [step]
import statistics, sys, torch
import torch.nn.functional as F
from torch.profiler import profile, ProfilerActivity

dev, dt = "cuda", torch.bfloat16
D, H, DH, FF, LAYERS, T, ROT = 256, 8, 64, 1024, 12, 2071, 32
TP = (T + 7) // 8 * 8                    # the cache's padded length (Attention.PaddedContext)
PROMPT, PASS = 1045, 2068
torch.manual_seed(0)


def w(*shape, s=0.05): return (torch.randn(*shape, device=dev) * s).to(dt)


layers = [dict(n1=1 + w(D), qkv=w(3 * H * DH, D), outT=w(H * DH, D), n2=1 + w(D), fi=w(FF, D), fib=w(FF), fo=w(D, FF), fob=w(D))
          for _ in range(LAYERS)]
emb, fnorm, cell = w(256, D, s=1.0), 1 + w(D), w(2, D)
ang = torch.outer(torch.arange(T, device=dev).float(), 10000.0 ** (-torch.arange(0, ROT, 2, device=dev).float() / ROT))
ang = torch.cat([ang, ang], -1)                                                     # [T, 32]
COS, SIN = ang.cos().to(dt), ang.sin().to(dt)
BLOCKS = torch.eye(H, device=dev, dtype=dt).unsqueeze(2).expand(-1, -1, DH).contiguous()   # [8, 8, 64]
for l in layers:
    per_head = l["qkv"][:2 * H * DH].view(2 * H, DH, D)                             # q and k heads
    swapped = torch.cat([-per_head[:, ROT // 2:ROT], per_head[:, :ROT // 2]], 1).reshape(-1, D)
    l["projection"] = torch.cat([l["qkv"], swapped])                                # [2048, 256]
    l["headOutT"] = (l["outT"].repeat(H, 1) * BLOCKS.reshape(-1, 1)).contiguous()   # [4096, 256]
r = torch.eye(DH, device=dev).repeat(T, 1, 1)
for j in range(ROT // 2):
    h = ROT // 2
    r[:, j, j] = ang[:, j].cos(); r[:, j + h, j] = -ang[:, j].sin(); r[:, j, j + h] = ang[:, j].sin(); r[:, j + h, j + h] = ang[:, j].cos()
ROTM = torch.stack([r / 8, r, torch.eye(DH, device=dev).expand(T, -1, -1)], 1).to(dt)   # [T, 3, 64, 64]
STEPMASK = torch.full((TP, TP), float("-inf"), device=dev).triu_(1).to(dt)


def timed(fn, reps=10, warm=2):
    for _ in range(warm): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize()
        ts.append(a.elapsed_time(b))
    return statistics.median(ts)


def graph_ms(fn, reps=20):
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2): fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g): fn()
    return timed(g.replay, reps=reps)


def top_kernels(fn, title, n=14):
    fn(); torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as p:
        fn(); torch.cuda.synchronize()
    ev = [e for e in p.key_averages() if e.device_time_total > 0]
    print(f"\n{title}: {sum(e.device_time_total for e in ev) / 1000:.1f} ms of kernels")
    for e in sorted(ev, key=lambda e: -e.device_time_total)[:n]:
        print(f"{e.device_time_total / 1000:9.2f} ms {e.count:5d}x  {e.key[:100]}")


def norm(x, g): return F.layer_norm(x, (D,), g, None, 1e-5)


def ff(x, l): return x.add_(F.linear(F.gelu(F.linear(norm(x, l["n2"]), l["fi"], l["fib"])), l["fo"], l["fob"]))


def rotary(x, cos, sin):                                                            # RotaryEmbedding.Apply
    rot, rest = x[..., :ROT], x[..., ROT:]
    rotated_half = torch.cat([-rot[..., ROT // 2:], rot[..., :ROT // 2]], -1)
    return torch.cat([rot * cos + rotated_half * sin, rest], -1)


def pass_before(tokens, cache):                          # one speculative pass, [2, B, H, T, 64] cache written
    b, n = tokens.shape
    x = emb.index_select(0, tokens.reshape(-1)).view(b, n, D)
    cos, sin = COS[:n], SIN[:n]
    for i, l in enumerate(layers):
        qkv = F.linear(norm(x, l["n1"]), l["qkv"]).view(b, n, 3, H, DH).permute(2, 0, 3, 1, 4)
        q, k = rotary(qkv[0], cos, sin), rotary(qkv[1], cos, sin)
        cache[i][0, :, :, :n].copy_(k); cache[i][1, :, :, :n].copy_(qkv[2])
        o = F.scaled_dot_product_attention(q, cache[i][0, :, :, :n], cache[i][1, :, :, :n], is_causal=True)
        x.add_(o.transpose(1, 2).reshape(b, n, -1).matmul(l["outT"]))
        ff(x, l)
    return F.linear(norm(x[:, PROMPT - 1:], fnorm), cell)


def pass_now(tokens):                                    # LifeGpt.Pass from 0 without a cache
    b, n = tokens.shape
    x = emb.index_select(0, tokens.reshape(-1))
    cos, sin = COS[:n].unsqueeze(1), SIN[:n].unsqueeze(1)
    for i, l in enumerate(layers):
        projected = F.linear(norm(x, l["n1"]), l["projection"])
        heads = projected.view(b, n, -1, DH)
        heads[:, :, :2 * H, :ROT].mul_(cos).addcmul_(projected[:, 3 * H * DH:].view(b, n, 2 * H, ROT), sin)
        q, k, v = (heads[:, :, j * H:(j + 1) * H].transpose(1, 2) for j in range(3))
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        if i == LAYERS - 1:
            o = o[:, :, PROMPT - 1:]
            x = x.view(b, n, D)[:, PROMPT - 1:].reshape(-1, D)
        x.add_(o.transpose(1, 2).reshape(-1, H * DH).matmul(l["outT"]))
        ff(x, l)
    return F.linear(norm(x.view(b, -1, D), fnorm), cell)


def step_before(tok, pos, cache):                        # head-major cache, per-head products over pos + 1 keys
    b = tok.shape[0]
    x = emb.index_select(0, tok)
    for i, l in enumerate(layers):
        rotated = F.linear(norm(x, l["n1"]), l["qkv"]).view(b, 3, H, DH).matmul(ROTM[pos])
        cache[i].select(3, pos).copy_(rotated[:, 1:3].transpose(0, 1))
        keys, values = cache[i][0, :, :, :pos + 1], cache[i][1, :, :, :pos + 1]
        o = rotated[:, 0].unsqueeze(2).matmul(keys.transpose(2, 3)).softmax(-1).matmul(values).reshape(b, -1)
        x = ff(torch.addmm(x, o, l["outT"]), l)
    return F.linear(norm(x, fnorm), cell)


def step_now(tok, pos, cache):                           # block-diagonal GEMMs; cache [B, TP, 2, H, 64] (KvCache: [2, TP, B, H, 64], same kernels)
    b = tok.shape[0]
    t = (pos + 1 + 7) // 8 * 8
    mask = STEPMASK[pos, :t].view(1, 1, t)
    x = emb.index_select(0, tok)
    for i, l in enumerate(layers):
        rotated = F.linear(norm(x, l["n1"]), l["qkv"]).view(b, 3, H, DH).matmul(ROTM[pos])
        cache[i].select(1, pos).copy_(rotated[:, 1:3])
        keys_t, values = cache[i][:, :t, 0].flatten(2).transpose(1, 2), cache[i][:, :t, 1].flatten(2)
        queries = rotated[:, :1].mul(BLOCKS).view(b, H, H * DH)
        o = queries.bmm(keys_t).add_(mask).softmax(-1).bmm(values).view(b, -1)
        x = ff(torch.addmm(x, o, l["headOutT"]), l)
    return F.linear(norm(x, fnorm), cell)


def rel(a, b): return ((a.float() - b.float()).norm() / b.float().norm()).item()


sections = sys.argv[1:] or ["pass", "step"]
with torch.inference_mode():
    print(torch.__version__, torch.cuda.get_device_name(), flush=True)
    if "pass" in sections:
        b = 256
        tokens = torch.randint(48, 50, (b, PASS), device=dev)
        cache = [torch.empty(2, b, H, T, DH, device=dev, dtype=dt) for _ in range(LAYERS)]
        before, now = timed(lambda: pass_before(tokens, cache), reps=5), timed(lambda: pass_now(tokens), reps=5)
        print(f"\n## speculative pass, B={b}: before {before:.1f} ms ({b / before * 1e3:.0f} boards/s), now {now:.1f} ms "
              f"({b / now * 1e3:.0f} boards/s); logits rel. difference {rel(pass_now(tokens), pass_before(tokens, cache)):.1e}")
        top_kernels(lambda: pass_before(tokens, cache), "before")
        del cache; torch.cuda.empty_cache()
        top_kernels(lambda: pass_now(tokens), "now")
        del tokens; torch.cuda.empty_cache()
    if "step" in sections:
        print("\n## one plain decode step, GPU time only (CUDA-graph replay), ms, mean over the positions")
        print("| batch | positions | before | now |\n| ---: | --- | ---: | ---: |")
        for b in [1, 64, 512]:
            tok = torch.randint(48, 50, (b,), device=dev)
            old = [torch.randn(2, b, H, T, DH, device=dev, dtype=dt) for _ in range(LAYERS)]
            new = [torch.zeros(b, TP, 2, H, DH, device=dev, dtype=dt) for _ in range(LAYERS)]
            for o_, n_ in zip(old, new): n_[:, :T].copy_(o_.permute(1, 3, 0, 2, 4))
            for positions in [range(1100, 1108), range(1557, 1565)]:
                ms = [statistics.mean(graph_ms(lambda: fn(tok, p, c)) for p in positions) for fn, c in [(step_before, old), (step_now, new)]]
                print(f"| {b} | {positions.start}-{positions.stop - 1} | {ms[0]:.3f} | {ms[1]:.3f} |", flush=True)
            print(f"batch {b}: logits rel. difference {rel(step_now(tok, 1563, new), step_before(tok, 1563, old)):.1e}")
            del old, new; torch.cuda.empty_cache()
