using Conway.Boards;

namespace Conway.Decoding;

/// <summary>How the next-state cells are produced. Both give the same output for greedy decoding.</summary>
public enum DecodeStrategy
{
    /// <summary>The exact rule drafts all 1024 cells; the model verifies them in one pass and keeps the agreeing prefix.</summary>
    Speculative,
    /// <summary>Plain KV-cached decoding: one model step per cell.</summary>
    Autoregressive,
}

/// <summary>
/// Decoding settings for one request. <see cref="Temperature"/> 0 is greedy (argmax), the default.
/// Sampling uses top-k (the reference default keeps 26 of 256 tokens) and is reproducible given <see cref="Seed"/>:
/// board i draws from its own random stream (<see cref="Seed"/>, <see cref="StreamOffset"/> + i), so its sample is the
/// same whatever it is batched with or however the batch is split.
/// </summary>
public sealed record DecodeOptions
{
    public const int ReferenceTopK = 26;

    public DecodeStrategy Strategy { get; init; } = DecodeStrategy.Speculative;
    public float Temperature { get; init; }
    public int TopK { get; init; } = ReferenceTopK;
    public long? Seed { get; init; }
    /// <summary>The random stream of the first board (a part of a request decoded on its own starts past its first boards).</summary>
    public int StreamOffset { get; init; }
    /// <summary>Also return, per cell, the model's probability that the cell is alive.</summary>
    public bool IncludeProbabilities { get; init; }
    /// <summary>
    /// Speculative decoding: after this many verification passes, before each further one, the batch checks whether
    /// its passes have cost as much time as plain decoding of its unfinished boards would, and if so continues plainly
    /// (<see cref="SpeculativeRun"/> says why).
    /// </summary>
    public int PassesBeforeFallbackCheck { get; init; } = DefaultPassesBeforeFallbackCheck;
    /// <summary>Speculative decoding: a hard bound on verification passes (null: none), after which the unfinished boards continue plainly.</summary>
    public int? MaxPasses { get; init; }
    /// <summary>
    /// Speculative decoding: whether a pass after the second re-scores only from the earliest re-drafted cell, over a
    /// KV cache of the positions before it, instead of the whole sequence again. Null: the device's default (on the CPU
    /// yes, on CUDA no; <see cref="SpeculativeRun"/> says why).
    /// </summary>
    public bool? ReuseCacheAcrossPasses { get; init; }
    /// <summary>
    /// Greedy speculative decoding: when a pass re-drafts a board, a stale choice whose logit margin is under this and
    /// whose left neighbour changed to the other state in the new draft is drafted as that state
    /// (<see cref="SelfDraft"/> says why). 0: the pass's choices as they are. Sampling always keeps them.
    /// </summary>
    public float FlipMargin { get; init; } = DefaultFlipMargin;
    /// <summary>
    /// Greedy decoding (no probabilities) of a few boards on the fused kernels as replays of captured CUDA graphs (true,
    /// the default), or call by call (false), as larger batches always are. Plain decoding of at most
    /// <see cref="Kernels.GreedySteps.MaxBatch"/> boards: each step one replay of a graph of the kernels' own
    /// (<see cref="Kernels.GreedySteps"/>), instead of libtorch's matmuls between the fused kernels. Speculative
    /// decoding of at most <see cref="Kernels.FusedKernels.MaxCapturedPassBatch"/> boards: each verification pass one replay
    /// of a graph libtorch captured of its own kernels and the fused ones (<see cref="CapturedVerification"/>).
    /// </summary>
    public bool CudaGraphs { get; init; } = true;

    public const int DefaultPassesBeforeFallbackCheck = 8;
    public const float DefaultFlipMargin = 0.5f;

    public bool IsGreedy => Temperature <= 0f;

    public static DecodeOptions Greedy { get; } = new();
}

/// <summary>The model's answer for one board.</summary>
/// <param name="Next">The predicted next state.</param>
/// <param name="PAlive">Per cell (row-major), P(alive) = p('1') under the model, when asked for.</param>
public sealed record Prediction(Board Next, float[]? PAlive)
{
    /// <summary>
    /// Speculative decoding: the verification passes the board took (1 when the model accepts the rule's draft whole;
    /// each pass after the first follows a rejected draft cell). Null for plain decoding.
    /// </summary>
    public int? Passes { get; init; }

    /// <summary>
    /// Speculative decoding: the cells decoded plainly, one step each, after verification passes left the board
    /// unfinished (0 when verification finished it; see <see cref="DecodeOptions.PassesBeforeFallbackCheck"/>). Null
    /// for plain decoding.
    /// </summary>
    public int? PlainCells { get; init; }
}

/// <summary>
/// What is loaded: for logs, /healthz, /models and the X-Model-Version header. <paramref name="Kernels"/>: which kernels
/// decode, and why (<see cref="Conway.Kernels.KernelChoice"/>).
/// </summary>
public sealed record ModelInfo(string Path, string Sha256, long Parameters, string DType, string Device, TimeSpan LoadTime, string Kernels);
