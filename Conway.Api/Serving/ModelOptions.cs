using System.ComponentModel.DataAnnotations;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>Where the model comes from, where it runs and how requests are batched onto it. Bound from the "Model" section.</summary>
public sealed class ModelOptions : IValidatableObject
{
    public const string Section = "Model";

    /// <summary>The model shipped with the service (models/lifegpt.safetensors, copied next to the binaries).</summary>
    public static string ShippedModel { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "models", "lifegpt.safetensors");

    /// <summary>
    /// The checkpoint to load (env <c>Model__Path</c>) when <see cref="Models"/> is empty: safetensors or a PyTorch
    /// state_dict. Default: the shipped model. It is served under its file name without the extension.
    /// </summary>
    [Required]
    public string Path { get; set; } = ShippedModel;

    /// <summary>
    /// Several models side by side, by name (<c>Model:Models:{name}:Path</c>, and <c>:Default</c> true on one of them
    /// when there are several); each is loaded on every device, and a request picks one with <c>"model"</c>. Empty:
    /// the one model of <see cref="Path"/>.
    /// </summary>
    public Dictionary<string, ModelEntryOptions> Models { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Reload a model when its checkpoint file changes (see <see cref="ReloadDelayMs"/>); <c>POST /models/{name}/reload</c> works either way.</summary>
    public bool WatchFiles { get; set; } = true;

    /// <summary>How long a changed checkpoint file must stay unchanged before the model reloads from it.</summary>
    [Range(0, 600_000)]
    public int ReloadDelayMs { get; set; } = 2000;

    /// <summary>A model's name: letters, digits, '.', '_' and '-', 1 to 64 of them (it appears in URLs and metric labels).</summary>
    public const string NamePattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

    /// <summary>The models to serve, the default first: <see cref="Models"/>, or the one of <see cref="Path"/>.</summary>
    public IReadOnlyList<ModelSpec> Served()
    {
        if (Models.Count == 0) return [new ModelSpec(System.IO.Path.GetFileNameWithoutExtension(Path), Path, IsDefault: true, SelfTestNames())];
        return [.. Models.Select(model => new ModelSpec(model.Key, model.Value.Path, model.Value.Default || Models.Count == 1,
                PatternNames(model.Value.SelfTestPatterns ?? SelfTestPatterns)))
            .OrderByDescending(model => model.IsDefault).ThenBy(model => model.Name, StringComparer.Ordinal)];
    }

    /// <summary>
    /// One worker thread per entry, each with its own copy of the model, all reading the one queue: <c>auto</c> (every
    /// visible CUDA GPU, else one CPU worker) or a comma-separated list such as <c>cuda:0,cuda:1</c> or <c>cpu,cpu</c>.
    /// </summary>
    [Required, RegularExpression(DeviceList.Pattern, ErrorMessage = "Model:Devices is 'auto' or a comma-separated list of cpu, cuda and cuda:N.")]
    public string Devices { get; set; } = "auto";

    /// <summary>
    /// The compute precision: <c>auto</c> (bf16 on CUDA, float32 - the reference library's - on the CPU), <c>bf16</c> or
    /// <c>fp32</c>. On a CPU with bf16 instructions (AVX-512 BF16 or AMX) bf16 about halves the time of a pass; its greedy
    /// outputs were the float32 ones on all 2,000 boards of the eval set (docs/PERFORMANCE.md, "bf16 on the CPU").
    /// </summary>
    [Required, RegularExpression("^(auto|bf16|fp32)$", ErrorMessage = "Model:Precision is auto, bf16 or fp32.")]
    public string Precision { get; set; } = "auto";

    /// <summary>
    /// The kernels decoding runs on: <c>auto</c> (the fused CUDA kernels, compiled at load by NVRTC, for a bf16 model on
    /// a GPU whose NVRTC and driver load; libtorch's elsewhere), <c>fused</c> (a load fails, saying why, where they cannot
    /// run) or <c>libtorch</c>. The start-up log says which run and why ("decoding on ...").
    /// </summary>
    [Required, RegularExpression("^(auto|fused|libtorch)$", ErrorMessage = "Model:Kernels is auto, fused or libtorch.")]
    public string Kernels { get; set; } = "auto";

    /// <summary>
    /// Most boards the model decodes in one pass (its memory peak; a batch runs as several passes). 0 or unset: 1 on
    /// CPU workers (<see cref="LifeGptPredictor.CpuBoardsPerPass"/>: bigger passes are slower there, and a cancelled or
    /// timed-out batch stops within a layer of a short one), 256 on CUDA. A board needs
    /// about 0.1 GB at the peak of a CPU pass (float32) and about 0.05 GB on a GPU (bf16): a speculative pass keeps no
    /// KV cache unless the model rejects part of the draft, plain decoding keeps one (0.1 GB a board in float32).
    /// </summary>
    [Range(1, 65536)]
    public int BoardsPerPass { get; set; }

    /// <summary>A worker stops gathering a batch once it holds this many boards. 0 or unset: one pass, but at least 2 boards, on CPU workers; 64 on CUDA.</summary>
    [Range(1, 65536)]
    public int MaxBatchBoards { get; set; }

    /// <summary>
    /// Most boards one request puts into one batch: a bigger request is decoded a slice at a time, with other requests'
    /// boards in the same batches, so it cannot make them wait behind all of it. 0 or unset: half of <see cref="MaxBatchBoards"/>.
    /// </summary>
    [Range(1, 65536)]
    public int SliceBoards { get; set; }

    /// <summary>
    /// How long a worker waits for more requests after the first one of a batch. 0 (the default): none, a free worker
    /// takes what is waiting, and requests that arrive while it decodes form its next batch. Measured on one H200
    /// (docs/PERFORMANCE.md, "Fused kernels"), 2 ms cost a lone request about 2 ms at the median and single-board
    /// requests from 64 clients about a third of their throughput.
    /// </summary>
    [Range(0, 10_000)]
    public int MaxWaitMs { get; set; }

    /// <summary>
    /// Boards that may wait for the model (not requests: a board is what costs); a request that would overfill it is
    /// answered 429 at once, with Retry-After. 0 or unset: 32 on CPU workers, 4096 on CUDA.
    /// </summary>
    [Range(1, 10_000_000)]
    public int QueueCapacity { get; set; }

    /// <summary>Most boards in one <c>/predict/batch</c> request.</summary>
    [Range(1, 65536)]
    public int MaxBoardsPerRequest { get; set; } = 256;

    /// <summary>
    /// The longest deadline a request may ask for (header <c>X-Deadline-Ms</c> or body <c>deadlineMs</c>), and the
    /// deadline of requests that ask for none. A request predicted to miss it is refused at once (429); work whose
    /// deadline passes is dropped and answered 504. 0 or unset: 120 s on CPU workers (plain decoding of one board takes
    /// ~17 s on a 2-core CPU), 30 s on CUDA.
    /// </summary>
    [Range(1, 3_600_000)]
    public int MaxDeadlineMs { get; set; }

    /// <summary>Most generations one <c>/rollout</c> may ask for (<c>steps</c>).</summary>
    [Range(1, 1_000_000)]
    public int MaxRolloutSteps { get; set; } = 1000;

    /// <summary>
    /// The longest deadline a <c>/rollout</c> may ask for (<c>deadlineMs</c> or <c>X-Deadline-Ms</c>), bounding the whole
    /// rollout, and the deadline of rollouts that ask for none (default 600000, ten minutes).
    /// </summary>
    [Range(1, 86_400_000)]
    public int MaxRolloutDeadlineMs { get; set; } = 600_000;

    /// <summary>
    /// Most rollouts running at once; one more is answered 429 with <c>Retry-After</c>. 0 or unset: 8 on CPU workers, 256
    /// on CUDA. Each running rollout has at most one board in the queue, which its later generations join whatever
    /// <see cref="QueueCapacity"/> says (only its first generation is admitted as a request).
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxRollouts { get; set; }

    /// <summary>
    /// How long one batch may run on the model before it is cancelled (504) and counted as a model failure (the
    /// decoder stops within a layer of a pass). 0 or unset: twice <see cref="MaxDeadlineMs"/>.
    /// </summary>
    [Range(1, 7_200_000)]
    public int BatchTimeoutMs { get; set; }

    /// <summary>
    /// On shutdown (SIGTERM), how long the instance stays unready but still accepts connections, answering new
    /// predictions 503 with <c>Retry-After</c> while queued work goes on, so that load balancers stop sending to it
    /// before its listener closes. Then the drain (<see cref="DrainSeconds"/>) starts.
    /// </summary>
    [Range(0, 300)]
    public int ShutdownDelaySeconds { get; set; } = 5;

    /// <summary>
    /// After the shutdown delay, how long in-flight and queued requests get to finish; then the model is stopped at its
    /// next cancellation point and every request still unanswered gets 503 with <c>Retry-After</c>.
    /// </summary>
    [Range(0, 3600)]
    public int DrainSeconds { get; set; } = 25;

    /// <summary>
    /// What the host gives shutdown beyond the delay and the drain: time to write the last answers before the web
    /// server aborts what is left (<see cref="ShutdownTimeout"/>).
    /// </summary>
    public static TimeSpan ShutdownMargin { get; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// <c>HostOptions.ShutdownTimeout</c>: <see cref="ShutdownDelaySeconds"/> + <see cref="DrainSeconds"/> +
    /// <see cref="ShutdownMargin"/>, so the web server never aborts a response the drain is still producing. A
    /// container's grace period (SIGTERM to SIGKILL) must be longer.
    /// </summary>
    public TimeSpan ShutdownTimeout => TimeSpan.FromSeconds(ShutdownDelaySeconds + DrainSeconds) + ShutdownMargin;

    /// <summary>
    /// The patterns of <see cref="Patterns.Named"/> that each worker's model must step exactly like the rule, in one
    /// warm-up batch at start, before the instance is ready: <c>all</c>, a comma-separated list of names, or <c>none</c>
    /// (no self-test: for a research checkpoint that is not exact, which would otherwise never be served). Unset or
    /// <c>auto</c>: <c>blinker,glider</c> on CPU workers (ready in seconds), <c>all</c> on CUDA.
    /// </summary>
    [Required]
    public string SelfTestPatterns { get; set; } = "auto";

    /// <summary>
    /// Fills the settings left at 0 (or <c>auto</c>) for where the model runs: CPU workers get short passes, small
    /// batches, a small queue, long deadlines and a short self-test; CUDA workers the GPU's.
    /// </summary>
    public void ApplyDeviceDefaults(bool cpuOnly)
    {
        if (BoardsPerPass == 0) BoardsPerPass = cpuOnly ? LifeGptPredictor.CpuBoardsPerPass : LifeGptPredictor.CudaBoardsPerPass;
        // on a CPU at least two boards, so that a big request's slice and another request's board share a batch (which
        // runs as passes of BoardsPerPass): a batch of one board is the request with the earliest deadline alone
        if (MaxBatchBoards == 0) MaxBatchBoards = cpuOnly ? Math.Max(BoardsPerPass, 2) : 64;
        if (SliceBoards == 0) SliceBoards = Math.Max(1, MaxBatchBoards / 2);
        if (QueueCapacity == 0) QueueCapacity = cpuOnly ? 32 : 4096;
        if (MaxDeadlineMs == 0) MaxDeadlineMs = cpuOnly ? 120_000 : 30_000;
        if (BatchTimeoutMs == 0) BatchTimeoutMs = 2 * MaxDeadlineMs;
        if (MaxRollouts == 0) MaxRollouts = cpuOnly ? 8 : 256;
        if (SelfTestPatterns.Trim() is "" or "auto") SelfTestPatterns = cpuOnly ? "blinker,glider" : "all";
    }

    /// <summary>When the circuit breaker around the model opens, and for how long.</summary>
    [Required]
    public BreakerOptions Breaker { get; set; } = new();

    public IReadOnlyList<string> SelfTestNames() => PatternNames(SelfTestPatterns);

    /// <summary>The names a self-test setting (<c>all</c>, <c>none</c> or a comma-separated list) stands for.</summary>
    public static IReadOnlyList<string> PatternNames(string setting) => setting.Trim() switch
    {
        "all" => Patterns.Names,
        "none" => [],
        var names => names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (SelfTestProblem("Model:SelfTestPatterns", SelfTestPatterns) is { } problem) yield return new ValidationResult(problem, [nameof(SelfTestPatterns)]);
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(Breaker, new ValidationContext(Breaker), results, validateAllProperties: true);
        foreach (var result in results) yield return result;
        foreach (var modelProblem in ModelsProblems()) yield return new ValidationResult(modelProblem, [nameof(Models)]);
    }

    private static string? SelfTestProblem(string key, string setting)
    {
        var names = PatternNames(setting);
        var unknown = names.Where(name => !Patterns.Named.ContainsKey(name)).ToList();
        return unknown.Count > 0 || names.Count == 0 && setting.Trim() != "none"
            ? $"{key} is 'all', 'none' or names from: {string.Join(", ", Patterns.Names)}; unknown: '{string.Join("', '", unknown)}'."
            : null;
    }

    private IEnumerable<string> ModelsProblems()
    {
        foreach (var (name, model) in Models)
        {
            if (model.SelfTestPatterns is { } setting && SelfTestProblem($"Model:Models:{name}:SelfTestPatterns", setting) is { } problem) yield return problem;
            if (!System.Text.RegularExpressions.Regex.IsMatch(name, NamePattern))
                yield return $"Model:Models:{name}: a model's name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.";
            if (string.IsNullOrWhiteSpace(model.Path)) yield return $"Model:Models:{name}:Path is required: the checkpoint to load.";
        }
        var defaults = Models.Where(model => model.Value.Default).Select(model => model.Key).ToList();
        if (Models.Count > 1 && defaults.Count != 1)
            yield return $"Mark exactly one of Model:Models ({string.Join(", ", Models.Keys)}) with Default = true; " +
                (defaults.Count == 0 ? "none is." : $"{string.Join(", ", defaults)} are.");
    }
}

/// <summary>One of <see cref="ModelOptions.Models"/>: where its checkpoint is, and whether requests that name no model get it.</summary>
public sealed class ModelEntryOptions
{
    public string Path { get; set; } = "";

    public bool Default { get; set; }

    /// <summary>This model's self-test (as <see cref="ModelOptions.SelfTestPatterns"/>); unset: that setting's.</summary>
    public string? SelfTestPatterns { get; set; }
}

/// <summary>A model the service serves: its name, its checkpoint, whether it is the default, and the patterns it must step exactly.</summary>
public sealed record ModelSpec(string Name, string Path, bool IsDefault, IReadOnlyList<string> SelfTest);

/// <summary>
/// The circuit breaker around the model (Polly): it opens when at least <see cref="FailureRatio"/> of at least
/// <see cref="MinimumThroughput"/> batches within <see cref="SamplingSeconds"/> failed, and stays open for
/// <see cref="BreakSeconds"/>; meanwhile the instance is unready and prediction requests get 503.
/// </summary>
public sealed class BreakerOptions
{
    [Range(0.01, 1.0)]
    public double FailureRatio { get; set; } = 0.5;

    [Range(2, 10_000)]
    public int MinimumThroughput { get; set; } = 4;

    [Range(0.5, 3600)]
    public double SamplingSeconds { get; set; } = 30;

    [Range(0.5, 3600)]
    public double BreakSeconds { get; set; } = 15;
}
