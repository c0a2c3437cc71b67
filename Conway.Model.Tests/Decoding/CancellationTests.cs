using System.Diagnostics;
using Conway.Boards;
using Conway.Decoding;

namespace Conway.Model.Tests.Decoding;

public sealed class CancellationTests
{
    [Fact]
    public void Cancelled_plain_decoding_stops_between_steps_instead_of_finishing_the_board()
    {
        string model = Path.Combine(RepoRoot(), "models", "lifegpt.safetensors");
        using var predictor = LifeGptPredictor.Load(model, "cpu");
        var options = DecodeOptions.Greedy with { Strategy = DecodeStrategy.Autoregressive };
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        var clock = Stopwatch.StartNew();
        Assert.ThrowsAny<OperationCanceledException>(() => predictor.Predict([Patterns.Named["glider"]], options, cancellation.Token));

        // a whole board is 1,024 steps (about 11 s on a 2-core CPU); stopping between steps takes a step or two
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"took {clock.Elapsed.TotalSeconds:F1} s to stop");
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Conway.sln"))) return dir.FullName;
        throw new InvalidOperationException("Conway.sln not found above the test binaries.");
    }
}
