using System.ComponentModel.DataAnnotations;
using Conway.Boards;

namespace Conway.Api.Serving;

/// <summary>Where the model comes from, where it runs and how requests are batched onto it. Bound from the "Model" section.</summary>
public sealed class ModelOptions : IValidatableObject
{
    public const string Section = "Model";

    /// <summary>The model shipped with the service (models/lifegpt.safetensors, copied next to the binaries).</summary>
    public static string ShippedModel { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "models", "lifegpt.safetensors");

    /// <summary>The checkpoint to load (env <c>Model__Path</c>): safetensors or a PyTorch state_dict. Default: the shipped model.</summary>
    [Required]
    public string Path { get; set; } = ShippedModel;

    /// <summary>
    /// One worker thread per entry, each with its own copy of the model, all reading the one queue: <c>auto</c> (every
    /// visible CUDA GPU, else one CPU worker) or a comma-separated list such as <c>cuda:0,cuda:1</c> or <c>cpu,cpu</c>.
    /// </summary>
    [Required, RegularExpression(DeviceList.Pattern, ErrorMessage = "Model:Devices is 'auto' or a comma-separated list of cpu, cuda and cuda:N.")]
    public string Devices { get; set; } = "auto";

    /// <summary>
    /// Most boards the model decodes in one pass (its memory peak; a batch runs as several passes, and a cancelled
    /// batch stops between them). 0: the predictor's default, 16 on the CPU and 256 on CUDA. A board needs about
    /// 0.1 GB at the peak of a CPU pass (float32) and about 0.05 GB on a GPU (bf16): a speculative pass keeps no KV
    /// cache unless the model rejects part of the draft, plain decoding keeps one (0.1 GB a board in float32).
    /// </summary>
    [Range(0, 65536)]
    public int BoardsPerPass { get; set; }

    /// <summary>A worker stops gathering a batch once it holds this many boards.</summary>
    [Range(1, 65536)]
    public int MaxBatchBoards { get; set; } = 64;

    /// <summary>How long a worker waits for more requests after the first one of a batch.</summary>
    [Range(0, 10_000)]
    public int MaxWaitMs { get; set; } = 2;

    /// <summary>Requests (work items) that may wait for the model; past this the API answers 429.</summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Most boards in one <c>/predict/batch</c> request.</summary>
    [Range(1, 65536)]
    public int MaxBoardsPerRequest { get; set; } = 256;

    /// <summary>
    /// The longest deadline a request may ask for (header <c>X-Deadline-Ms</c> or body <c>deadlineMs</c>), and the
    /// deadline of requests that ask for none. Work whose deadline has passed is dropped and answered 504.
    /// </summary>
    [Range(1, 3_600_000)]
    public int MaxDeadlineMs { get; set; } = 30_000;

    /// <summary>How long one batch may run on the model before it is cancelled (504) and counted as an engine failure.</summary>
    [Range(1, 3_600_000)]
    public int BatchTimeoutMs { get; set; } = 60_000;

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
    /// (no self-test: for a research checkpoint that is not exact, which would otherwise never be served).
    /// </summary>
    [Required]
    public string SelfTestPatterns { get; set; } = "all";

    /// <summary>When the circuit breaker around the model opens, and for how long.</summary>
    [Required]
    public BreakerOptions Breaker { get; set; } = new();

    public IReadOnlyList<string> SelfTestNames() => SelfTestPatterns.Trim() switch
    {
        "all" => Patterns.Names,
        "none" => [],
        var names => names.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries),
    };

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        var names = SelfTestNames();
        var unknown = names.Where(name => !Patterns.Named.ContainsKey(name)).ToList();
        if (unknown.Count > 0 || names.Count == 0 && SelfTestPatterns.Trim() != "none")
            yield return new ValidationResult(
                $"Model:SelfTestPatterns is 'all', 'none' or names from: {string.Join(", ", Patterns.Names)}; unknown: '{string.Join("', '", unknown)}'.",
                [nameof(SelfTestPatterns)]);
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(Breaker, new ValidationContext(Breaker), results, validateAllProperties: true);
        foreach (var result in results) yield return result;
    }
}

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
