using Conway.Boards;
using Conway.Decoding;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace Conway.Api.Serving;

/// <summary>
/// The resilience pipeline (Polly v8) that every batch goes through on its way to a predictor, shared by all device
/// workers. Outermost first:
/// <list type="number">
/// <item>a circuit breaker: predictor failures (exceptions, timeouts; not cancellations) open it for
/// <see cref="BreakerOptions.BreakSeconds"/>, during which work is refused with <see cref="BrokenCircuitException"/>
/// (503) and readiness is down; after that a trial batch closes it again or re-opens it;</item>
/// <item>a timeout per batch (<see cref="ModelOptions.BatchTimeoutMs"/>), which cancels the predictor's token;</item>
/// <item>out of memory: the batch is retried with its chunk size halved, resuming after the boards already
/// predicted, down to one board. No other failure is retried.</item>
/// </list>
/// </summary>
public sealed class PredictorResilience
{
    private static readonly ResiliencePropertyKey<SplitPlan> Plan = new("conway.split-plan");

    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _circuit = new();
    private long _openUntilTicks;

    public PredictorResilience(IOptions<ModelOptions> options, ServingMetrics metrics, ILogger<PredictorResilience> logger)
    {
        var model = options.Value;
        _pipeline = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = model.Breaker.FailureRatio,
                MinimumThroughput = model.Breaker.MinimumThroughput,
                SamplingDuration = TimeSpan.FromSeconds(model.Breaker.SamplingSeconds),
                BreakDuration = TimeSpan.FromSeconds(model.Breaker.BreakSeconds),
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } e and not OperationCanceledException),
                StateProvider = _circuit,
                OnOpened = args =>
                {
                    Interlocked.Exchange(ref _openUntilTicks, (DateTime.UtcNow + args.BreakDuration).Ticks);
                    logger.LogError(args.Outcome.Exception, "The model failed repeatedly: circuit open for {BreakSeconds} s, refusing work", args.BreakDuration.TotalSeconds);
                    return ValueTask.CompletedTask;
                },
                OnClosed = _ =>
                {
                    logger.LogInformation("The model answered again: circuit closed");
                    return ValueTask.CompletedTask;
                },
            })
            .AddTimeout(TimeSpan.FromMilliseconds(model.BatchTimeoutMs))
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } e && IsOutOfMemory(e) && args.Context.Properties.GetValue(Plan, null!).CanSplit),
                MaxRetryAttempts = 32,
                Delay = TimeSpan.Zero,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
                OnRetry = args =>
                {
                    var plan = args.Context.Properties.GetValue(Plan, null!);
                    plan.Halve();
                    metrics.Split();
                    logger.LogWarning("The model ran out of memory; retrying the rest of the batch in chunks of {Boards} boards", plan.ChunkSize);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public CircuitState Circuit => _circuit.CircuitState;

    /// <summary>How long the circuit stays open; zero when it is closed, or its break has passed and a trial may go through.</summary>
    public TimeSpan OpenFor => Circuit is CircuitState.Open or CircuitState.Isolated
        ? TimeSpan.FromTicks(Math.Max(0, Interlocked.Read(ref _openUntilTicks) - DateTime.UtcNow.Ticks))
        : TimeSpan.Zero;

    /// <summary>
    /// Predicts the boards through the pipeline on the calling thread (the device worker's). Throws what the
    /// predictor throws, <see cref="BrokenCircuitException"/> while the circuit is open,
    /// <see cref="TimeoutRejectedException"/> past the batch timeout, and <see cref="OperationCanceledException"/>
    /// when <paramref name="cancellation"/> fires.
    /// </summary>
    public IReadOnlyList<Prediction> Predict(IBoardPredictor predictor, IReadOnlyList<Board> boards, DecodeOptions options, CancellationToken cancellation)
    {
        var context = ResilienceContextPool.Shared.Get(cancellation);
        try
        {
            var plan = new SplitPlan(boards);
            context.Properties.Set(Plan, plan);
            return _pipeline.Execute(static (context, state) => state.plan.Run(state.predictor, state.options, context.CancellationToken),
                context, (plan, predictor, options));
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    /// <summary>.NET's own, or libtorch's ("CUDA out of memory", "DefaultCPUAllocator: not enough memory").</summary>
    public static bool IsOutOfMemory(Exception e) =>
        e is OutOfMemoryException
        || e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase)
        || e.Message.Contains("not enough memory", StringComparison.OrdinalIgnoreCase)
        || e.InnerException is { } inner && IsOutOfMemory(inner);

    /// <summary>A batch predicted in chunks; after an out-of-memory retry it resumes with the boards not yet predicted.</summary>
    private sealed class SplitPlan(IReadOnlyList<Board> boards)
    {
        private readonly List<Prediction> _done = new(boards.Count);

        public int ChunkSize { get; private set; } = boards.Count;

        private int Next => Math.Min(ChunkSize, boards.Count - _done.Count);

        public bool CanSplit => Next > 1;

        public void Halve() => ChunkSize = (Next + 1) / 2;

        public IReadOnlyList<Prediction> Run(IBoardPredictor predictor, DecodeOptions options, CancellationToken cancellation)
        {
            while (_done.Count < boards.Count)
                _done.AddRange(predictor.Predict([.. boards.Skip(_done.Count).Take(Next)],
                    options with { StreamOffset = options.StreamOffset + _done.Count }, cancellation));   // boards keep their random streams
            return _done;
        }
    }
}
