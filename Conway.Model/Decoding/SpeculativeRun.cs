using System.Diagnostics;
using Conway.Boards;
using Conway.Codec;
using Conway.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Decoding;

/// <summary>
/// One batch's speculative decoding, in named steps. The rule's next state is appended to each prompt as the draft and
/// a <see cref="Verify">verification pass</see> scores every drafted cell at once. Each board keeps the longest prefix
/// the model accepts (its own choice, greedy or sampled by <see cref="CellSampler"/>, equals the draft) and takes the
/// model's cell at the first rejection. After it, the draft becomes the model's own choices from that pass
/// (Jacobi-style self-drafting: the rule is right for a good model, the model's stale choices for a poor one, whose
/// disagreements with the rule would otherwise cost a pass each); greedy, a near tie whose left neighbour the new draft
/// changed against it is drafted flipped (<see cref="SelfDraft"/>). The next pass re-scores only the boards not yet
/// done, from the earliest changed position on, reusing the KV cache before it. Only the verified prefix is kept, so
/// the output is plain decoding's, for any model; for sampling, the stale choice came from the same per-cell uniform
/// number as the verification (<see cref="CellSampler"/>), which makes the acceptance min(1, p/q) with the other cell
/// as the residual.
/// <para>
/// The first pass keeps no cache (a trained model accepts nearly every draft whole, and a cache costs a copy of every
/// key and value, ~10% of the pass, and 51 MB a board). On the CPU, if boards remain, the second pass runs from the
/// start and builds it, and later passes re-score only from the earliest re-drafted cell over it: there arithmetic is
/// the bound, and the prompt's 1,044 positions are half a pass. On CUDA every pass re-scores the whole sequence
/// without a cache: a pass from position 0 runs causal flash attention, while one that starts later attends over
/// cached keys with explicit scores and a mask (libtorch's fused kernels take no offset causal mask, and its cuDNN
/// attention re-plans for every new length), which read and write a [boards, 8, ~1,024, ~2,068] matrix five times a
/// layer and made such a pass cost more than a whole one (measured: docs/PERFORMANCE.md). There a greedy pass of a few
/// boards is one replay of a graph captured for its batch size (<see cref="CapturedVerification"/>).
/// </para>
/// <para>
/// Verification stops paying for a checkpoint whose own choices keep changing from pass to pass. After
/// <see cref="DecodeOptions.PassesBeforeFallbackCheck"/> (8) passes the run applies the rent-or-buy rule: it decodes a
/// few cells plainly to time a step at its batch (<see cref="ProbeSteps"/>), and before every further pass compares
/// the time its passes have taken with what plain decoding of its unfinished boards would take from the earliest
/// unsettled cell; once the passes have cost as much, the boards <see cref="ContinuePlainly">continue plainly</see>,
/// their settled cells fed as they are. So no checkpoint makes a batch much more than twice as slow as plain decoding
/// (the passes spent, then the plain decoding bought), while a checkpoint whose passes stay cheap is never pushed onto
/// the slow path: on a GPU a pass over a few boards costs milliseconds and plain decoding of even one board seconds,
/// so a fixed pass count would be wrong there (measured: a hard bound of 8 turned 1,024 boards of a 300-step
/// checkpoint from 676 into 244 boards/s because two boards needed an eighth pass; docs/PERFORMANCE.md).
/// </para>
/// </summary>
internal sealed class SpeculativeRun : IDisposable
{
    private readonly LifeGpt _model;
    private readonly CellSampler _sampler;
    private readonly Tensor? _uniforms;
    private readonly bool _cellsOnly, _reuseCache, _capturePasses;
    private readonly float _flipMargin;                         // SelfDraft's: 0 keeps the pass's choices as they are
    private readonly DisposeScope _scope = NewDisposeScope();   // the run's own tensors; the results move out of it
    private readonly Tensor _tokens;                            // [B, 2069]: prompts then drafts, corrected in place
    private readonly Tensor? _pAlive;
    private readonly int[] _settled, _passes, _plainCells;      // per board: cells decided, passes run, cells stepped
    private List<int> _active;                                  // boards still decoding, in cache order
    private KvCache? _cache;
    private int _start;                                         // the first position the next pass feeds
    private double _passSeconds;                                // time spent in verification passes
    private double? _stepSeconds;                               // a plain step's time at this batch, once timed

    /// <summary>Plain steps taken to time a step, when the rent-or-buy check first needs the price of plain decoding.</summary>
    public const int ProbeSteps = 8;

    public SpeculativeRun(LifeGpt model, IReadOnlyList<Board> boards, CellSampler sampler, Tensor? uniforms,
        bool withProbabilities, bool cellsOnly, bool reuseCache, bool capturePasses, float flipMargin)
    {
        (_model, _sampler, _uniforms, _cellsOnly, _reuseCache, _flipMargin) = (model, sampler, uniforms, cellsOnly, reuseCache, flipMargin);
        _capturePasses = capturePasses && cellsOnly && !reuseCache;   // greedy without probabilities, every pass from position 0
        int batch = boards.Count;
        _tokens = LifeGptCodec.Drafted(boards, boards.Select(b => LifeRule.Step(b)).ToArray(), model.Device);
        _pAlive = withProbabilities ? zeros(batch, Board.Cells, ScalarType.Float32, model.Device) : null;
        (_settled, _passes, _plainCells) = (new int[batch], new int[batch], new int[batch]);
        _active = Enumerable.Range(0, batch).ToList();
    }

    public bool Done => _active.Count == 0;

    /// <summary>Passes run so far (every unfinished board takes part in every pass).</summary>
    public int PassCount { get; private set; }

    /// <summary>One verification pass over the unfinished boards' drafts; settles what it can and re-drafts the rest.</summary>
    public void Verify(CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        var clock = Stopwatch.StartNew();
        using var pass = NewDisposeScope();
        int from = _active.Min(b => _settled[b]);                    // the earliest undecided cell
        var rows = _active.Count < _tokens.shape[0] ? Rows() : null;          // null: every board, in order (the first pass)
        var sequences = rows is null ? _tokens : _tokens.index_select(0, rows);
        Tensor choices, verdicts;
        Tensor? probability = null, margins = null;
        var captured = _capturePasses ? CapturedVerification.For(_model, _active.Count) : null;
        if (captured is not null) from = 0;                          // a captured pass scores all cells: choices from cell 0
        var drafted = sequences.narrow(1, LifeGptCodec.PromptLength + from, Board.Cells - from);
        if (captured is not null)
        {
            (choices, verdicts, margins) = captured.Run(sequences, SettledColumn());
        }
        else
        {
            // logits at position p predict cell p - 1044: those of cells from..1023
            var logits = _model.Pass(sequences.narrow(1, _start, LifeGptCodec.CellsEnd - 1 - _start), _start, _cache,
                LifeGptCodec.PromptLength - 1 + from - _start, _cellsOnly, cancellation);
            var uniforms = rows is null ? _uniforms : _uniforms?.index_select(0, rows);
            choices = _sampler.Choose(logits, uniforms?.narrow(1, from, Board.Cells - from));
            verdicts = Verdicts(choices.ne(drafted), from, SettledColumn());
            if (_pAlive is not null) probability = CellSampler.ProbabilityAlive(logits);
            if (_flipMargin > 0) margins = CellSampler.Margins(logits);
        }
        long[] verdict = verdicts.cpu().data<long>().ToArray();      // read on the host: the pass has finished
        _passSeconds += clock.Elapsed.TotalSeconds;
        PassCount++;

        var unfinished = new List<int>();
        var decided = new int[_active.Count];
        for (int a = 0; a < _active.Count; a++)
        {
            int b = _active[a];
            _passes[b]++;
            decided[a] = verdict[2 * a] != 0 ? from + (int)verdict[2 * a + 1] + 1 : Board.Cells;
            if (probability is not null)
                _pAlive!.narrow(0, b, 1).narrow(1, _settled[b], decided[a] - _settled[b])
                    .copy_(probability.narrow(0, a, 1).narrow(1, _settled[b] - from, decided[a] - _settled[b]));
            _settled[b] = decided[a];
            if (decided[a] < Board.Cells) unfinished.Add(a);
        }
        if (unfinished.Count > 0) Redraft(unfinished, decided, from, drafted, choices, margins);
        Keep(unfinished);
    }

    /// <summary>
    /// The next drafts of the <paramref name="unfinished"/> boards (indices into the active list), from the cells the pass
    /// saw (<paramref name="drafted"/>, cells from..1023), its choices and their margins (<see cref="SelfDraft"/>): the
    /// model's cell at each board's rejection (the last of its <paramref name="decided"/> cells) and its re-draft after.
    /// </summary>
    private void Redraft(List<int> unfinished, int[] decided, int from, Tensor drafted, Tensor choices, Tensor? margins)
    {
        int cells = Board.Cells - from;
        byte[] seen = drafted.to(ScalarType.Byte).contiguous().cpu().data<byte>().ToArray();   // read before _tokens changes
        byte[] chosen = choices.to(ScalarType.Byte).contiguous().cpu().data<byte>().ToArray();
        float[] margin = _flipMargin > 0 ? margins?.contiguous().cpu().data<float>().ToArray() ?? [] : [];
        var next = new byte[unfinished.Count * cells];
        for (int u = 0; u < unfinished.Count; u++)
        {
            int a = unfinished[u];
            SelfDraft.Redraft(seen.AsSpan(a * cells, cells), chosen.AsSpan(a * cells, cells),
                margin.Length == 0 ? default : margin.AsSpan(a * cells, cells), _flipMargin, decided[a] - 1 - from, next.AsSpan(u * cells, cells));
        }
        var boards = tensor(unfinished.Select(a => (long)_active[a]).ToArray(), ScalarType.Int64, _model.Device);
        _tokens.narrow(1, LifeGptCodec.PromptLength + from, cells)
            .index_copy_(0, boards, tensor(next, [unfinished.Count, cells], ScalarType.Byte).to(_model.Device).to(ScalarType.Int64));
    }

    /// <summary>
    /// The rent-or-buy check: whether the passes so far have cost less than plain decoding of the unfinished boards
    /// would from here. The first time, it times <see cref="ProbeSteps"/> plain steps (which settle their cells).
    /// </summary>
    public bool VerifyingIsCheaper(CancellationToken cancellation)
    {
        if (_stepSeconds is null) ContinuePlainly(ProbeSteps, cancellation);
        return Done || _passSeconds < _stepSeconds!.Value * (Board.Cells - _active.Min(b => _settled[b]));
    }

    /// <summary>
    /// Plain decoding for the unfinished boards, one step a cell from the earliest unsettled one, for at most
    /// <paramref name="steps"/> cells (timing a step); a board's cells that verification already settled are fed as
    /// they are (its choices there are not used). Boards it takes to the last cell are finished.
    /// </summary>
    public void ContinuePlainly(int steps, CancellationToken cancellation)
    {
        using var scope = NewDisposeScope();
        int from = _active.Min(b => _settled[b]), count = Math.Min(steps, Board.Cells - from), to = from + count;
        var rows = Rows();
        var sequences = _tokens.index_select(0, rows);
        var uniforms = _uniforms?.index_select(0, rows);
        using Scalar first = from.ToScalar(), end = Board.Cells.ToScalar();   // held across the call: see Scalars
        var settled = SettledColumn();
        var verified = arange(first, end, Scalars.One, ScalarType.Int64, _model.Device).unsqueeze(0).lt(settled);   // [A, count]
        var probability = _pAlive is null ? null : empty(_active.Count, count, ScalarType.Float32, _model.Device);

        // the logits of cell `from` come from the position of cell from - 1 (every unfinished board has settled one)
        int last = LifeGptCodec.PromptLength + from - 1;
        var cache = _cache ??= new KvCache(_active.Count, _model.Dtype, _model.Device);   // then _start is 0: built here
        var logits = _model.Pass(sequences.narrow(1, _start, last + 1 - _start), _start, cache, last - _start, _cellsOnly, cancellation);
        Synchronize();
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var step = NewDisposeScope();
            var cell = sequences.narrow(1, LifeGptCodec.PromptLength + from + i, 1);               // [A, 1], a view
            cell.copy_(where(verified.narrow(1, i, 1), cell, _sampler.Choose(logits, uniforms?.narrow(1, from + i, 1))));
            probability?.narrow(1, i, 1).copy_(CellSampler.ProbabilityAlive(logits));
            if (i == count - 1) break;
            logits = _model.Step(cell.reshape(-1), last + 1 + i, cache, _cellsOnly).MoveToOuterDisposeScope();
        }

        Synchronize();
        _stepSeconds = clock.Elapsed.TotalSeconds / count;

        _tokens.index_copy_(0, rows, sequences);
        var unfinished = new List<int>();
        for (int a = 0; a < _active.Count; a++)
        {
            int b = _active[a];
            if (to > _settled[b])
            {
                _pAlive?.narrow(0, b, 1).narrow(1, _settled[b], to - _settled[b])
                    .copy_(probability!.narrow(0, a, 1).narrow(1, _settled[b] - from, to - _settled[b]));
                _plainCells[b] += to - _settled[b];
                _settled[b] = to;
            }
            if (_settled[b] < Board.Cells) unfinished.Add(a);
        }
        if (!_reuseCache && unfinished.Count > 0)   // passes without a cache run from position 0: this one was the step's alone
        {
            _cache.Dispose();
            _cache = null;
        }
        Keep(unfinished);
    }

    /// <summary>The cells [B, 1024] and P(alive) (both owned by the caller's scope), and per board its passes and plainly stepped cells.</summary>
    public (Tensor Cells, Tensor? PAlive, int[] Passes, int[] PlainCells) Result() =>
        (_tokens.narrow(1, LifeGptCodec.PromptLength, Board.Cells).MoveToOuterDisposeScope(), _pAlive?.MoveToOuterDisposeScope(), _passes, _plainCells);

    /// <summary>
    /// Per board of <paramref name="rejected"/> [A, 1024 - from] (cells from..1023), whether it rejects any cell at or
    /// after its own <paramref name="settled"/> count [A, 1] and the first such cell (relative to <paramref name="from"/>):
    /// [A, 2] on the device, for one host read per pass.
    /// </summary>
    internal static Tensor Verdicts(Tensor rejected, int from, Tensor settled)
    {
        using Scalar first = from.ToScalar(), end = Board.Cells.ToScalar();   // held across the call: see Scalars
        var cellIndex = arange(first, end, Scalars.One, ScalarType.Int64, rejected.device).unsqueeze(0);
        var candidates = rejected.logical_and(cellIndex.ge(settled));
        var firstRejected = candidates.to(ScalarType.Int64).argmax(1, keepdim: true);
        return cat([candidates.any(1, keepdim: true).to(ScalarType.Int64), firstRejected], 1);
    }

    /// <summary>
    /// Keeps the given active boards (indices into the active list). Reusing the cache, it is compacted to them, or made
    /// for the second pass, which then runs from position 0; later passes start at the earliest corrected cell.
    /// </summary>
    private void Keep(List<int> unfinished)
    {
        bool shrinks = unfinished.Count < _active.Count;
        _active = unfinished.Select(a => _active[a]).ToList();
        if (!_reuseCache || _active.Count == 0) return;
        if (_cache is null)
        {
            _cache = new KvCache(_active.Count, _model.Dtype, _model.Device);   // the next pass runs from 0 and fills it
            return;
        }
        if (shrinks)
        {
            var keep = tensor(unfinished.Select(a => (long)a).ToArray(), ScalarType.Int64, _model.Device);
            var compacted = _cache.Select(keep);
            _cache.Dispose();
            _cache = compacted;
        }
        _start = LifeGptCodec.PromptLength - 1 + _active.Min(b => _settled[b]);
    }

    private void Synchronize()
    {
        if (_model.Device.type == DeviceType.CUDA) cuda.synchronize(_model.Device);
    }

    /// <summary>The active boards' settled counts as a column [A, 1] on the device (no copy from the host before the first pass).</summary>
    private Tensor SettledColumn() => _active.All(b => _settled[b] == 0)
        ? zeros(_active.Count, 1, ScalarType.Int64, _model.Device)
        : tensor(_active.Select(b => (long)_settled[b]).ToArray(), ScalarType.Int64, _model.Device).unsqueeze(1);

    private Tensor Rows() => tensor(_active.Select(b => (long)b).ToArray(), ScalarType.Int64, _model.Device);

    public void Dispose()
    {
        _cache?.Dispose();
        _scope.Dispose();
    }
}
