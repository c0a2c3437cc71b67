using Conway.Decoding;
using Prometheus;

namespace Conway.Api.Serving;

/// <summary>
/// The service's Prometheus metrics, in its own registry (served at /metrics beside prometheus-net's HTTP metrics:
/// <c>http_requests_received_total{endpoint,code}</c> and <c>http_request_duration_seconds</c>, the total latency).
/// </summary>
public sealed class ServingMetrics
{
    private readonly Gauge _queueDepth;
    private readonly Gauge _circuitOpen;
    private readonly Histogram _queueWait;
    private readonly Histogram _inference;
    private readonly Histogram _batchBoards;
    private readonly Counter _boards;
    private readonly Counter _ruleBoards;
    private readonly Counter _mismatchedCells;
    private readonly Counter _dropped;
    private readonly Counter _splits;
    private readonly Histogram _passes;
    private readonly Counter _refused;
    private readonly Counter _abandoned;
    private readonly Gauge _rolloutsActive;
    private readonly Counter _rolloutGenerations;
    private readonly Counter _rolloutsEnded;

    public ServingMetrics(CollectorRegistry registry)
    {
        Registry = registry;
        var metrics = Metrics.WithCustomRegistry(registry);
        _queueDepth = metrics.CreateGauge("conway_queue_depth", "Boards of live requests waiting for the model (requests whose client left or whose deadline passed leave at once).");
        _circuitOpen = metrics.CreateGauge("conway_circuit_open", "1 while the circuit breaker around the model is open, else 0.");
        _queueWait = metrics.CreateHistogram("conway_queue_wait_seconds", "Time from admission to the start of the request's batch.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        _inference = metrics.CreateHistogram("conway_inference_seconds", "Time the model took for one batch.",
            new HistogramConfiguration { LabelNames = ["device", "model"], Buckets = Histogram.ExponentialBuckets(0.005, 2, 16) });
        _batchBoards = metrics.CreateHistogram("conway_batch_boards", "Boards per model batch.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(1, 2, 12) });
        _boards = metrics.CreateCounter("conway_boards_predicted_total", "Boards predicted (rate() is boards/s).", "device", "model");
        _ruleBoards = metrics.CreateCounter("conway_rule_agreement_boards_total", "Predicted boards that match (or not) the exact rule's next state.", "model", "result");
        _mismatchedCells = metrics.CreateCounter("conway_rule_mismatched_cells_total", "Cells where the model's next state differs from the rule's.", "model");
        _dropped = metrics.CreateCounter("conway_requests_dropped_total", "Queued requests dropped before their batch: the deadline passed or the client left.", "reason");
        _splits = metrics.CreateCounter("conway_oom_splits_total", "Batches retried in halves after the model ran out of memory.");
        _passes = metrics.CreateHistogram("conway_verification_passes", "Verification passes per board decoded speculatively (1: the rule's draft accepted whole).",
            new HistogramConfiguration { LabelNames = ["model"], Buckets = Histogram.ExponentialBuckets(1, 2, 11) });
        _refused = metrics.CreateCounter("conway_requests_refused_total", "Requests refused at admission (429): the queue's boards at capacity, or an answer predicted after the deadline.", "reason");
        _abandoned = metrics.CreateCounter("conway_abandoned_inference_seconds_total", "Model time spent on batches that were stopped before they finished (every request in them gone, or the drain ended): wasted work.");
        _rolloutsActive = metrics.CreateGauge("conway_rollouts_active", "Rollouts (POST /rollout) running now.");
        _rolloutGenerations = metrics.CreateCounter("conway_rollout_generations_total", "Generations the model produced for rollouts (each also counts as a board predicted).");
        _rolloutsEnded = metrics.CreateCounter("conway_rollouts_ended_total",
            "Rollouts ended, by why: completed, deadline, shutdown, failed, busy, or client_gone (the client left; its rollout stopped).", "reason");
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Reads the queue depth and circuit state at each scrape.</summary>
    public void Observe(Func<int> queueDepth, Func<bool> circuitOpen) =>
        Registry.AddBeforeCollectCallback(() =>
        {
            _queueDepth.Set(queueDepth());
            _circuitOpen.Set(circuitOpen() ? 1 : 0);
        });

    public void QueueWaited(TimeSpan wait) => _queueWait.Observe(wait.TotalSeconds);

    public void Predicted(string device, string model, IReadOnlyList<Prediction> predictions, TimeSpan elapsed)
    {
        int boards = predictions.Count;
        foreach (var prediction in predictions)
            if (prediction.Passes is { } passes) _passes.WithLabels(model).Observe(passes);
        _inference.WithLabels(device, model).Observe(elapsed.TotalSeconds);
        _batchBoards.Observe(boards);
        _boards.WithLabels(device, model).Inc(boards);
    }

    public void Checked(string model, int boards, int matching, int mismatchedCells)
    {
        _ruleBoards.WithLabels(model, "match").Inc(matching);
        _ruleBoards.WithLabels(model, "mismatch").Inc(boards - matching);
        _mismatchedCells.WithLabels(model).Inc(mismatchedCells);
    }

    public void Dropped(bool expired) => _dropped.WithLabels(expired ? "deadline" : "client_gone").Inc();

    public void Split() => _splits.Inc();

    public void Refused(string reason) => _refused.WithLabels(reason).Inc();

    public void Abandoned(TimeSpan modelTime) => _abandoned.Inc(modelTime.TotalSeconds);

    public void RolloutStarted() => _rolloutsActive.Inc();

    public void RolloutGenerated() => _rolloutGenerations.Inc();

    public void RolloutEnded(string reason)
    {
        _rolloutsActive.Dec();
        _rolloutsEnded.WithLabels(reason).Inc();
    }
}
