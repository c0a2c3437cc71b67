# What bounds a speculative pass of many boards on the GPU machine, with the libtorch that TorchSharp calls (PyTorch's):
#   attention  every scaled-dot-product backend libtorch has, on a pass's q, k and v (views of one q | k | v projection,
#              as Attention.AttendPass passes them), timed a layer;
#   streams    a LifeGPT-shaped pass (12 pairs of norm, q | k | v GEMM, rotary's traffic, causal attention, output GEMM,
#              norm, feed-forward with bias and exact GELU, residual adds; bf16, random weights) over B boards on one
#              stream, against the same boards as 2 or 4 independent parts on as many streams: whether the memory-bound
#              kernels of one part overlap the compute-bound ones of another.
# Times are medians of CUDA-event timings after a warm-up. docs/PERFORMANCE.md ("Why 4,000 boards/s is out of reach
# here") quotes its output. There: python3 gpu/pass-limits.py
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

dev, bf, L, H, DH = "cuda", torch.bfloat16, 2068, 8, 64     # a pass: 2,068 positions, 8 heads of 64
torch.manual_seed(0)


def median_ms(work, reps=20):
    work()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        work()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def heads(projection, b):
    h = projection.view(b, L, 3 * H, DH)
    return [h[:, :, i * H:(i + 1) * H].transpose(1, 2) for i in range(3)]    # q, k, v [B, 8, L, 64] views


def attention(b=256):
    q, k, v = heads(torch.randn(b * L, 3 * H * DH, device=dev, dtype=bf), b)
    causal_flop = 4 * b * H * (L * (L + 1) / 2) * DH                      # q k^T and the weights times v, causal half
    reference = None
    print(f"attention, {b} boards x {H} heads x {L} positions x {DH}, causal (torch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}):")
    for name, backend in [("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION), ("efficient", SDPBackend.EFFICIENT_ATTENTION)]:
        for layout, (qq, kk, vv) in [("views", (q, k, v)), ("contiguous", (q.contiguous(), k.contiguous(), v.contiguous()))]:
            try:
                with sdpa_kernel(backend):
                    ms = median_ms(lambda: F.scaled_dot_product_attention(qq, kk, vv, is_causal=True))
                    out = F.scaled_dot_product_attention(qq, kk, vv, is_causal=True).float()
            except RuntimeError as e:
                print(f"  {name:9s} {layout:10s} not available: {str(e).splitlines()[0][:120]}")
                continue
            if reference is None:
                reference = out
            difference = ((out - reference).norm() / reference.norm()).item()
            print(f"  {name:9s} {layout:10s} {ms:7.3f} ms a layer {causal_flop / ms / 1e9:6.1f} TFLOP/s   relative difference to the first {difference:.1e}")


def layers():
    def w(*shape, s):
        return torch.randn(*shape, device=dev, dtype=bf) * s
    return [dict(n1=torch.ones(256, device=dev, dtype=bf), qkv=w(1536, 256, s=1 / 16), out=w(256, 512, s=1 / 23),
                 n2=torch.ones(256, device=dev, dtype=bf), w1=w(1024, 256, s=1 / 16), b1=w(1024, s=0.1), w2=w(256, 1024, s=1 / 32),
                 b2=w(256, s=0.1)) for _ in range(12)]


def layer(x, b, w):
    qkv = F.linear(F.layer_norm(x, [256], w["n1"]), w["qkv"])
    qkv.view(-1, 3 * H, DH)[:, :2 * H, :32].mul_(1.0001)                 # rotary's traffic: q and k's rotary channels in place
    o = F.scaled_dot_product_attention(*heads(qkv, b), is_causal=True)
    x = x + F.linear(o.transpose(1, 2).reshape(-1, H * DH), w["out"])
    hidden = F.gelu(F.linear(F.layer_norm(x, [256], w["n2"]), w["w1"], w["b1"]), approximate="none")
    return x + F.linear(hidden, w["w2"], w["b2"])


def passes(boards, parts, weights, interleaved):
    b = boards // parts
    xs = [torch.randn(b * L, 256, device=dev, dtype=bf) for _ in range(parts)]
    streams = [torch.cuda.Stream() for _ in range(parts)]
    main = torch.cuda.current_stream()

    def work():
        for s in streams:
            s.wait_stream(main)
        current = list(xs)
        if interleaved:                                                  # launches alternate between the parts, layer by layer
            for w in weights:
                for i, s in enumerate(streams):
                    with torch.cuda.stream(s):
                        current[i] = layer(current[i], b, w)
        else:                                                            # each part's whole pass, then the next part's
            for i, s in enumerate(streams):
                with torch.cuda.stream(s):
                    for w in weights:
                        current[i] = layer(current[i], b, w)
        for s in streams:
            main.wait_stream(s)
    return median_ms(work, reps=7)


def streams():
    weights = layers()
    for boards in (256, 512):
        one = passes(boards, 1, weights, False)
        parts = ", ".join(f"{p} streams {passes(boards, p, weights, False):.1f} ms (interleaved by layer {passes(boards, p, weights, True):.1f})" for p in (2, 4))
        print(f"a pass of {boards} boards: one stream {one:.1f} ms, {parts}, one stream again {passes(boards, 1, weights, False):.1f} ms")


with torch.inference_mode():
    print(torch.cuda.get_device_name())
    attention()
    streams()
