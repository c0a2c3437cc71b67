using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Conway.Boards;

namespace Conway.Api.Serving;

/// <summary>One running rollout: its generations, then its <see cref="Outcome"/>. Disposing it stops it.</summary>
public sealed class Rollout : IDisposable
{
    private readonly ModelHost _host;
    private readonly Action<CheckedPrediction> _generated;
    private readonly Action<Rollout, RolloutOutcome?> _ended;
    private readonly CancellationToken _clientGone;
    private readonly long _deadlineAt;
    private readonly CancellationTokenSource _expiry;
    private readonly CancellationTokenSource _cancellation;
    private Task<Served>? _first;
    private int _done;
    private int _disposed;

    /// <param name="host">Where its generations are submitted.</param>
    /// <param name="generated">Told of each generation.</param>
    /// <param name="ended">Told once when it ends: its outcome, or null when its client left.</param>
    /// <param name="plan">What to roll out.</param>
    /// <param name="requestId">The request's id, for the logs.</param>
    /// <param name="arrived">When the request arrived (a <see cref="Stopwatch"/> timestamp): the deadline runs from then.</param>
    /// <param name="deadline">How long after <paramref name="arrived"/> the whole rollout must end.</param>
    /// <param name="clientGone">Fires when the client leaves: the rollout stops, its current generation is cancelled.</param>
    internal Rollout(ModelHost host, Action<CheckedPrediction> generated, Action<Rollout, RolloutOutcome?> ended,
        RolloutPlan plan, string requestId, long arrived, TimeSpan deadline, CancellationToken clientGone)
    {
        (_host, _generated, _ended, Plan, RequestId, Deadline, _clientGone) = (host, generated, ended, plan, requestId, deadline, clientGone);
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
            _generated(check);
            yield return new RolloutGeneration(step, check, firstDivergence, served.Model, served.Info);
        }
        Finish(new RolloutOutcome(RolloutEnd.Completed, Plan.Steps, firstDivergence, null));
    }

    private Task<Served> Submit(Board board, bool continuing) =>
        _host.Submit([board], Plan.Model, Plan.Decode, RequestId, _deadlineAt, _cancellation.Token, continuing);

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
            ModelUnavailableException when !_host.Admitting => RolloutEnd.Shutdown,
            ModelBusyException => RolloutEnd.Busy,
            _ => RolloutEnd.Failed,
        };
        Finish(new RolloutOutcome(reason, steps, firstDivergence, error));
    }

    private void Finish(RolloutOutcome? outcome)
    {
        Outcome = outcome;
        _ended(this, outcome);
    }

    /// <summary>Stops the rollout (its generation on the model, if any, is cancelled); one that did not finish counts as left by its client.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        _cancellation.Cancel();
        if (Outcome is null) _ended(this, null);
        _cancellation.Dispose();
        _expiry.Dispose();
    }
}
