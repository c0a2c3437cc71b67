using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Conway.Boards;
using Conway.Decoding;
using Microsoft.Extensions.Options;

namespace Conway.Api.Serving;

/// <summary>What each generation of a rollout is predicted from.</summary>
public enum RolloutFeed
{
    /// <summary>The model's previous output: the autoregressive rollout of the LifeGPT paper.</summary>
    Model,

    /// <summary>The rule's previous state (teacher forcing): every generation measures one-step accuracy on the true trajectory.</summary>
    Rule,
}

/// <summary>Why a rollout ended (its last line says so).</summary>
public enum RolloutEnd { Completed, Deadline, Shutdown, Failed, Busy }

/// <summary>A validated rollout: its start, how many generations, what each is predicted from, and how to decode.</summary>
public sealed record RolloutPlan(Board Start, int Steps, RolloutFeed Feed, DecodeOptions Decode);

/// <summary>
/// Generation <paramref name="Step"/> of a rollout: the model's board checked against the rule's board after as many
/// steps from the same start; <paramref name="FirstDivergence"/> is the first step whose board differed from the
/// rule's, null until one did.
/// </summary>
public sealed record RolloutGeneration(int Step, CheckedPrediction Check, int? FirstDivergence);

/// <summary>How a rollout ended: why, after how many generations, and the error behind it (null when completed).</summary>
public sealed record RolloutOutcome(RolloutEnd Reason, int Steps, int? FirstDivergence, Exception? Error);

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
        var rollout = new Rollout(this, plan, requestId, arrived, deadline, clientGone);
        ModelBusyException? full = null;
        lock (_lock)
        {
            if (_running.Count < options.Value.MaxRollouts) _running.Add(rollout);
            else full = new ModelBusyException(
                $"{_running.Count} rollouts are running, the most this instance runs at once (Model:MaxRollouts); retry after the Retry-After seconds.",
                RetryAfter(plan.Decode.Strategy));
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
    private TimeSpan RetryAfter(DecodeStrategy strategy)
    {
        int fewest = _running.Count == 0 ? 0 : _running.Min(rollout => rollout.Remaining);
        double seconds = fewest * estimate.SecondsPerBoard(strategy) * _running.Count / Math.Max(1, _host.ServingDevices);
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

    /// <summary>One running rollout: its generations, then its <see cref="Outcome"/>. Disposing it stops it.</summary>
    public sealed class Rollout : IDisposable
    {
        private readonly RolloutService _service;
        private readonly CancellationToken _clientGone;
        private readonly long _deadlineAt;
        private readonly CancellationTokenSource _expiry;
        private readonly CancellationTokenSource _cancellation;
        private Task<Served>? _first;
        private int _done;
        private int _disposed;

        internal Rollout(RolloutService service, RolloutPlan plan, string requestId, long arrived, TimeSpan deadline, CancellationToken clientGone)
        {
            (_service, Plan, RequestId, Deadline, _clientGone) = (service, plan, requestId, deadline, clientGone);
            _deadlineAt = arrived + (long)(deadline.TotalSeconds * Stopwatch.Frequency);
            var left = deadline - Stopwatch.GetElapsedTime(arrived);
            _expiry = new CancellationTokenSource(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            _cancellation = CancellationTokenSource.CreateLinkedTokenSource(clientGone, _expiry.Token);
        }

        public RolloutPlan Plan { get; }

        public string RequestId { get; }

        /// <summary>How long after its arrival the whole rollout must end.</summary>
        public TimeSpan Deadline { get; }

        /// <summary>Generations produced so far.</summary>
        public int Done => Volatile.Read(ref _done);

        public int Remaining => Plan.Steps - Done;

        /// <summary>How the rollout ended, once <see cref="Generations"/> has run to its end; null while it runs, or when the client left.</summary>
        public RolloutOutcome? Outcome { get; private set; }

        /// <summary>Submits generation 1 as an ordinary request; throws what admission refused it with.</summary>
        internal void SubmitFirst()
        {
            _first = Submit(Plan.Start, continuing: false);
            if (_first.IsFaulted) ExceptionDispatchInfo.Throw(_first.Exception!.InnerException!);
        }

        /// <summary>
        /// Each generation as it is produced, <see cref="RolloutPlan.Steps"/> of them unless the rollout ends early: the
        /// deadline passed, the instance shut down, the model failed, or the client left (then <see cref="Outcome"/> stays null).
        /// </summary>
        public async IAsyncEnumerable<RolloutGeneration> Generations()
        {
            Board model = Plan.Start, rule = Plan.Start;
            int? firstDivergence = null;
            for (int step = 1; step <= Plan.Steps; step++)
            {
                var pending = step == 1 ? _first! : Submit(Plan.Feed == RolloutFeed.Model ? model : rule, continuing: true);
                var (served, error) = await WaitAsync(pending);
                if (served is null)
                {
                    End(error!, step - 1, firstDivergence);
                    yield break;
                }
                rule = LifeRule.Step(rule);
                var check = CheckedPrediction.Against(rule, served.Predictions[0]);
                model = check.Prediction.Next;
                firstDivergence ??= check.MatchesRule ? null : step;
                Volatile.Write(ref _done, step);
                _service.Generated(check);
                yield return new RolloutGeneration(step, check, firstDivergence);
            }
            Finish(new RolloutOutcome(RolloutEnd.Completed, Plan.Steps, firstDivergence, null));
        }

        private Task<Served> Submit(Board board, bool continuing) =>
            _service._host.Submit([board], Plan.Decode, RequestId, _deadlineAt, _cancellation.Token, continuing);

        private async Task<(Served? Served, Exception? Error)> WaitAsync(Task<Served> pending)
        {
            try
            {
                return (await pending.WaitAsync(_cancellation.Token), null);
            }
            catch (Exception e)
            {
                return (null, e);
            }
        }

        /// <summary>Why the generation after <paramref name="steps"/> failed; the client leaving ends it with no outcome.</summary>
        private void End(Exception error, int steps, int? firstDivergence)
        {
            if (error is OperationCanceledException && !_expiry.IsCancellationRequested && _clientGone.IsCancellationRequested)
            {
                Finish(null);
                return;
            }
            var reason = error switch
            {
                OperationCanceledException when _expiry.IsCancellationRequested => RolloutEnd.Deadline,
                ModelUnavailableException when !_service._host.Admitting => RolloutEnd.Shutdown,
                ModelBusyException => RolloutEnd.Busy,
                _ => RolloutEnd.Failed,
            };
            Finish(new RolloutOutcome(reason, steps, firstDivergence, error));
        }

        private void Finish(RolloutOutcome? outcome)
        {
            Outcome = outcome;
            _service.Ended(this, outcome);
        }

        /// <summary>Stops the rollout (its generation on the model, if any, is cancelled); one that did not finish counts as left by its client.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
            _cancellation.Cancel();
            if (Outcome is null) _service.Ended(this, null);
            _cancellation.Dispose();
            _expiry.Dispose();
        }
    }

    private void Generated(CheckedPrediction check)
    {
        metrics.RolloutGenerated();
        metrics.Checked(1, check.MatchesRule ? 1 : 0, check.Mismatches.Count);
    }
}
