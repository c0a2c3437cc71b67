using System.Diagnostics;
using Conway.Decoding;
using Conway.Model.Tests.Conformance;
using Xunit.Abstractions;

namespace Conway.Model.Tests.Decoding;

/// <summary>
/// TorchSharp frees a native object (a <c>Scalar</c> made from a C# number, a tensor) in its finaliser. If decoding
/// let go of one while native code still read it, a collection at the wrong moment would free it mid-call: in
/// optimised (Release) code the JIT ends a local's life at its last use, so a temporary <c>Scalar</c> passed to
/// <c>masked_fill</c> can be finalised while libtorch reads it (seen as "toFloat at c10/core/Scalar.h:140", or as a
/// silently wrong value). Here another thread forces full collections and runs finalisers without pause while the
/// conformance checkpoint decodes one board every way a request can ask for; the outputs must be exactly those of a
/// quiet run (greedy: the reference library's). Meaningful in Release, the configuration CI and users run.
/// </summary>
[Collection(nameof(NativeMemorySafetyTests))]
public sealed class NativeMemorySafetyTests(ConformanceFixture fx, ITestOutputHelper output) : IClassFixture<ConformanceFixture>
{
    [SharedDataTheory]
    [InlineData(DecodeStrategy.Autoregressive, 0f)]
    [InlineData(DecodeStrategy.Autoregressive, 1f)]
    [InlineData(DecodeStrategy.Speculative, 0f)]
    [InlineData(DecodeStrategy.Speculative, 1f)]
    public void Decoding_with_probabilities_is_unchanged_while_another_thread_forces_garbage_collections(DecodeStrategy strategy, float temperature)
    {
        var board = fx.Cases[SeededSamples.Board];
        var options = new DecodeOptions { Strategy = strategy, Temperature = temperature, Seed = 11, IncludeProbabilities = true };
        var quiet = temperature == 0 ? new Prediction(board.Reference, null) : fx.Predictor.Predict([board.Initial], options)[0];

        Prediction stressed;
        int collections;
        using (var storm = new CollectionStorm())
        {
            stressed = fx.Predictor.Predict([board.Initial], options)[0];
            collections = storm.Collections;
        }
        output.WriteLine($"{collections} forced collections during decoding");

        Assert.True(collections > 100, $"only {collections} collections ran during decoding: the test proves nothing");
        Assert.Equal(quiet.Next.ToCells(), stressed.Next.ToCells());
        var expected = quiet.PAlive ?? board.PAlive;
        Assert.Equal(expected.Length, stressed.PAlive!.Length);
        float worst = expected.Select((p, cell) => Math.Abs(p - stressed.PAlive[cell])).Max();
        Assert.True(worst <= (quiet.PAlive is null ? 1e-4f : 0f), $"P(alive) differs from the quiet run by up to {worst}");
    }

    /// <summary>
    /// A thread that forces full, blocking collections and waits for finalisers, until disposed. After each it pauses
    /// for as long as the collection took (at least a millisecond), so decoding runs at least half the time. Back to
    /// back, collections can leave decoding little more than what the scheduler gives it between two of them: one CI run
    /// on a loaded 2-core machine took 13 minutes and 229,089 collections for one board, where it usually takes under one.
    /// </summary>
    private sealed class CollectionStorm : IDisposable
    {
        private readonly Thread _thread;
        private volatile bool _stop;
        private int _collections;

        public CollectionStorm()
        {
            _thread = new Thread(() =>
            {
                var clock = new Stopwatch();
                while (!_stop)
                {
                    clock.Restart();
                    GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true);
                    GC.WaitForPendingFinalizers();
                    Interlocked.Increment(ref _collections);
                    Thread.Sleep(Math.Max(1, (int)Math.Ceiling(clock.Elapsed.TotalMilliseconds)));
                }
            }) { IsBackground = true, Name = "collection storm" };
            _thread.Start();
        }

        public int Collections => Volatile.Read(ref _collections);

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }
}

/// <summary>
/// Forced blocking collections stop every thread of the process: the storm runs alone, after the tests that run in
/// parallel, which it would otherwise slow many times over (seen: the sampling-distribution test took 16 minutes beside it).
/// </summary>
[CollectionDefinition(nameof(NativeMemorySafetyTests), DisableParallelization = true)]
public sealed class NativeMemorySafetyCollection;
