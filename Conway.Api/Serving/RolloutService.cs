using System.Diagnostics;
using Conway.Decoding;
using Microsoft.Extensions.Options;

namespace Conway.Api.Serving;

/// <summary>
/// Runs rollouts: each generation of each rollout is one board submitted to the <see cref="ModelHost"/>, so concurrent
/// rollouts' generations are batched together by its queue. The first generation is admitted like any request (refused
/// at once, before anything is streamed, when the model is busy or unavailable); later ones are never refused for being
/// busy. At most <see cref="ModelOptions.MaxRollouts"/> run at once.
/// </summary>
public sealed class RolloutService(ModelHost host, ThroughputEstimate estimate, ServingMetrics metrics, IOptions<ModelOptions> options, ILogger<RolloutService> logger)
{
    private readonly ModelHost _host = host;
    private readonly HashSet<Rollout> _running = [];
    private readonly Lock _lock = new();

    /// <summary>Rollouts running now.</summary>
    public int Running
    {
        get { lock (_lock) return _running.Count; }
    }

    /// <summary>
    /// Starts a rollout and submits its first generation; throws at once what <see cref="ModelHost.Submit"/> refuses it
    /// with, or <see cref="ModelBusyException"/> when <see cref="ModelOptions.MaxRollouts"/> run already. The caller
    /// enumerates <see cref="Rollout.Generations"/> and disposes the rollout.
    /// </summary>
    /// <param name="plan">What to roll out.</param>
    /// <param name="requestId">The request's id, for the logs.</param>
    /// <param name="arrived">When the request arrived (a <see cref="Stopwatch"/> timestamp): the deadline runs from then.</param>
    /// <param name="deadline">How long after <paramref name="arrived"/> the whole rollout must end.</param>
    /// <param name="clientGone">Fires when the client leaves: the rollout stops, its current generation is cancelled.</param>
    public Rollout Start(RolloutPlan plan, string requestId, long arrived, TimeSpan deadline, CancellationToken clientGone)
    {
        plan = plan with { Model = _host.Find(plan.Model)!.Name };
        var rollout = new Rollout(_host, check => Generated(plan.Model, check), Ended, plan, requestId, arrived, deadline, clientGone);
        ModelBusyException? full = null;
        lock (_lock)
        {
            if (_running.Count < options.Value.MaxRollouts) _running.Add(rollout);
            else full = new ModelBusyException(
                $"{_running.Count} rollouts are running, the most this instance runs at once (Model:MaxRollouts); retry after the Retry-After seconds.",
                RetryAfter(plan.Model, plan.Decode.Strategy));
        }
        try
        {
            if (full is not null)
            {
                metrics.Refused("rollouts");
                throw full;
            }
            rollout.SubmitFirst();
        }
        catch
        {
            lock (_lock) _running.Remove(rollout);   // never started: not counted as running or ended
            rollout.Dispose();
            throw;
        }
        metrics.RolloutStarted();
        return rollout;
    }

    /// <summary>When the running rollout with the fewest generations left is predicted to end (under the lock), at least a second.</summary>
    private TimeSpan RetryAfter(string model, DecodeStrategy strategy)
    {
        int fewest = _running.Count == 0 ? 0 : _running.Min(rollout => rollout.Remaining);
        double seconds = fewest * estimate.SecondsPerBoard(model, strategy) * _running.Count / Math.Max(1, _host.ServingDevices(model));
        return TimeSpan.FromSeconds(Math.Max(1, seconds));
    }

    private void Ended(Rollout rollout, RolloutOutcome? outcome)
    {
        lock (_lock)
            if (!_running.Remove(rollout)) return;
        metrics.RolloutEnded(outcome is null ? "client_gone" : outcome.Reason.ToString().ToLowerInvariant());
        if (outcome is null)
            logger.LogInformation("Rollout {RequestId} stopped: the client left after {Steps} of {Total} generations",
                rollout.RequestId, rollout.Done, rollout.Plan.Steps);
        else
            logger.LogInformation("Rollout {RequestId} ended ({Reason}) after {Steps} of {Total} generations; first divergence from the rule: {FirstDivergence}",
                rollout.RequestId, outcome.Reason, outcome.Steps, rollout.Plan.Steps, outcome.FirstDivergence);
    }

    private void Generated(string model, CheckedPrediction check)
    {
        metrics.RolloutGenerated();
        metrics.Checked(model, 1, check.MatchesRule ? 1 : 0, check.Mismatches.Count);
    }
}
