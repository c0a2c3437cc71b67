using System.IO.Compression;
using Conway.Boards;
using Conway.Checkpoints;
using Conway.Codec;
using Conway.Model;
using static TorchSharp.torch;

namespace Conway.Training.Tests;

[Collection(nameof(TrainingTests))]
public sealed class TrainingTests
{
    [Fact]
    public void Training_boards_depend_only_on_seed_step_and_index()
    {
        var batch = TrainingBoards.Batch(seed: 1, step: 5, size: 16);

        Assert.Equal(batch, TrainingBoards.Batch(1, 5, 16));                       // same inputs, same boards
        Assert.Equal(batch.Take(8), TrainingBoards.Batch(1, 5, 8));               // board i does not depend on the batch size
        Assert.True(batch.Zip(TrainingBoards.Batch(1, 6, 16)).Count(p => p.First != p.Second) >= 14, "another step repeats the boards");
        Assert.True(batch.Zip(TrainingBoards.Batch(2, 5, 16)).Count(p => p.First != p.Second) >= 14, "another seed repeats the boards");
    }

    [Fact]
    public void Training_boards_are_the_same_in_every_process_so_a_resumed_run_sees_the_data_of_an_uninterrupted_one()
    {
        // pinned values: a seed derived from a per-process randomised hash (HashCode.Combine) changes them in every run
        int[] populations = TrainingBoards.Batch(seed: 1, step: 0, size: 12).Select(b => b.Population).ToArray();

        Assert.Equal(PinnedPopulations, populations);
    }

    private static readonly int[] PinnedPopulations = [35, 0, 40, 825, 253, 20, 24, 70, 217, 79, 0, 88];

    [Fact]
    public void Training_boards_mix_empty_full_sparse_and_dense_boards()
    {
        var boards = Enumerable.Range(0, 20).SelectMany(step => TrainingBoards.Batch(seed: 1, step, size: 100)).ToArray();
        const int sparse = Board.Cells * 5 / 100, dense = Board.Cells * 90 / 100;

        int empty = boards.Count(b => b.Population == 0), full = boards.Count(b => b.Population == Board.Cells);
        int fewAlive = boards.Count(b => b.Population is > 0 and <= sparse);
        int mostlyAlive = boards.Count(b => b.Population is >= dense and < Board.Cells);
        int middle = boards.Count(b => b.Population is > sparse and < dense);

        Assert.Equal(2000, boards.Length);
        Assert.InRange(empty, 10, 200);
        Assert.InRange(full, 3, 40);
        Assert.InRange(fewAlive, 200, 1400);
        Assert.InRange(mostlyAlive, 20, 200);
        Assert.InRange(middle, 400, 1600);
    }

    [Fact]
    public void Learning_rate_warms_up_linearly_then_follows_a_cosine_to_the_floor_at_the_last_step()
    {
        var trainer = new Trainer(new TrainOptions { Steps = 11, WarmupSteps = 4, LearningRate = 1e-3, MinLearningRate = 1e-4 }, TextWriter.Null);

        double[] expected =
        [
            0.25e-3, 0.5e-3, 0.75e-3, 1e-3,                                   // warm-up: lr * (step + 1) / warmup
            1e-3,                                                             // the cosine starts at the peak ...
            1e-4 + 0.45e-3 * (1 + Math.Cos(Math.PI * 1 / 6)),
            1e-4 + 0.45e-3 * (1 + Math.Cos(Math.PI * 2 / 6)),
            0.55e-3,                                                          // ... is half way down half way ...
            1e-4 + 0.45e-3 * (1 + Math.Cos(Math.PI * 4 / 6)),
            1e-4 + 0.45e-3 * (1 + Math.Cos(Math.PI * 5 / 6)),
            1e-4,                                                             // ... and ends on the floor at step 10, the last
        ];
        for (int step = 0; step < expected.Length; step++)
            Assert.Equal(expected[step], trainer.LearningRate(step), 1e-12);

        // the reference recipe: 200 warm-up steps of 1e-3 / 200 each, 2100 steps ending on 1e-4
        var reference = new Trainer(new TrainOptions(), TextWriter.Null);
        Assert.Equal(5e-6, reference.LearningRate(0), 1e-15);
        Assert.Equal(1e-3, reference.LearningRate(199), 1e-15);
        Assert.Equal(1e-3, reference.LearningRate(200), 1e-15);
        Assert.Equal(1e-4, reference.LearningRate(2099), 1e-15);
    }

    [Fact]
    public void Resuming_from_state_checkpoint_and_optimizer_gives_bitwise_the_weights_of_an_uninterrupted_run()
    {
        using var straight = new TempFolder();
        using var interrupted = new TempFolder();
        var options = new TrainOptions
        {
            Steps = 2, Batch = 1, WarmupSteps = 1, Seed = 11, Precision = "fp32", Device = "cpu",
            LogEvery = 1000, EvalEvery = 1000, EvalBoards = 1, CheckpointEvery = 1000,
        };

        var uninterrupted = new Trainer(options with { OutDir = straight.Path }, TextWriter.Null).Run();
        // the interrupted run stops on its time limit after one step; a fresh trainer then resumes from its folder
        var first = new Trainer(options with { OutDir = interrupted.Path, MaxMinutes = 0 }, TextWriter.Null).Run();
        var afterOneStep = ReadWeights(first.Checkpoint);
        var log = new StringWriter();
        var progress = new List<TrainingProgress>();
        var resumed = new Trainer(options with { OutDir = interrupted.Path }, log, new Recorder(progress)).Run();

        Assert.Equal(2, uninterrupted.Steps);
        Assert.Equal(1, first.Steps);
        Assert.Equal(2, resumed.Steps);
        Assert.Contains("resuming at step 1", log.ToString());
        Assert.Equal([(1, 2), (2, 2)], progress.Select(p => (p.Step, p.Steps)));   // the step it resumed from, then each step
        var expected = ReadWeights(uninterrupted.Checkpoint);
        var actual = ReadWeights(resumed.Checkpoint);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, bits) in expected)
            Assert.True(bits.AsSpan().SequenceEqual(actual[key]), $"{key} differs between the straight and the resumed run");
        // the second step moved the weights (so equality is not trivial); it would have moved them elsewhere had the
        // resumed AdamW started with fresh moments (its first update is lr * sign(gradient)), from step 0 or from other boards
        Assert.Contains(expected, e => !e.Value.AsSpan().SequenceEqual(afterOneStep[e.Key]));
        // and AdamW's state (moments, step counts) is the same too: optimizer.bin is a zip, compared entry by entry
        var straightOptimizer = ZipEntries(Path.Combine(straight.Path, "optimizer.bin"));
        var resumedOptimizer = ZipEntries(Path.Combine(interrupted.Path, "optimizer.bin"));
        Assert.Equal(straightOptimizer.Keys.Order(), resumedOptimizer.Keys.Order());
        foreach (var (name, bytes) in straightOptimizer)
            Assert.True(bytes.AsSpan().SequenceEqual(resumedOptimizer[name]), $"optimizer.bin entry {name} differs");
    }

    [Fact]
    public void A_run_resumes_only_with_the_hard_boards_it_started_with()
    {
        using var folder = new TempFolder();
        var hard = new HardBoards([Board.Random(0.4, new Random(1))], share: 0.5);
        var options = new TrainOptions
        {
            Steps = 2, Batch = 1, WarmupSteps = 1, Seed = 11, Precision = "fp32", Device = "cpu", OutDir = folder.Path,
            LogEvery = 1000, EvalEvery = 1000, EvalBoards = 1, CheckpointEvery = 1000, MaxMinutes = 0, HardBoards = hard,
        };
        Assert.Equal(1, new Trainer(options, TextWriter.Null).Run().Steps);   // stops on its time limit after one step

        var without = Assert.Throws<InvalidOperationException>(() => new Trainer(options with { HardBoards = null }, TextWriter.Null).Run());
        var other = Assert.Throws<InvalidOperationException>(() =>
            new Trainer(options with { HardBoards = new HardBoards([Board.Random(0.4, new Random(2))], 0.5) }, TextWriter.Null).Run());

        Assert.Contains($"holds a run with the hard boards of sha256 {hard.Sha256[..12]}, not no hard boards", without.Message);
        Assert.Contains($"holds a run with the hard boards of sha256 {hard.Sha256[..12]}, not the hard boards of sha256 ", other.Message);
        Assert.Equal(2, new Trainer(options with { MaxMinutes = double.PositiveInfinity }, TextWriter.Null).Run().Steps);
    }

    [Fact]
    public void A_run_started_from_a_checkpoint_begins_with_its_weights_and_resumes_only_from_it()
    {
        using var folder = new TempFolder();
        string init = folder.File("init.safetensors");
        manual_seed(3);
        using (var model = new LifeGpt()) Checkpoint.Save(model, init, ScalarType.BFloat16);   // a 16-bit export
        // a learning rate of 0: AdamW leaves every weight where the run started
        var options = new TrainOptions
        {
            Steps = 1, Batch = 1, WarmupSteps = 1, LearningRate = 0, MinLearningRate = 0, Seed = 11, Precision = "fp32", Device = "cpu",
            LogEvery = 1000, EvalEvery = 1000, EvalBoards = 1, CheckpointEvery = 1000,
        };

        var started = new Trainer(options with { OutDir = folder.File("from-init"), InitFrom = init }, TextWriter.Null).Run();
        var random = new Trainer(options with { OutDir = folder.File("from-random") }, TextWriter.Null).Run();

        var expected = Checkpoint.Read(init);
        try
        {
            var fromInit = ReadWeights(started.Checkpoint);
            foreach (var (key, tensor) in expected)
                Assert.True(tensor.to(ScalarType.Float32).contiguous().bytes.ToArray().AsSpan().SequenceEqual(fromInit[key]), $"{key} is not the checkpoint's");
            var fromRandom = ReadWeights(random.Checkpoint);
            Assert.Contains(fromRandom, e => !e.Value.AsSpan().SequenceEqual(fromInit[e.Key]));   // else the check proves nothing
        }
        finally
        {
            foreach (var t in expected.Values) t.Dispose();
        }
        var other = Assert.Throws<InvalidOperationException>(() =>
            new Trainer(options with { OutDir = folder.File("from-random"), Steps = 2, InitFrom = init }, TextWriter.Null).Run());
        Assert.Contains($"holds a run started from random weights, not from the checkpoint of sha256 {Checkpoint.Sha256(init)[..12]}", other.Message);
        var without = Assert.Throws<InvalidOperationException>(() =>
            new Trainer(options with { OutDir = folder.File("from-init"), Steps = 2 }, TextWriter.Null).Run());
        Assert.Contains($"holds a run started from the checkpoint of sha256 {Checkpoint.Sha256(init)[..12]}, not from random weights", without.Message);
    }

    [Fact]
    public void A_profile_times_each_phase_of_the_last_steps_after_the_warm_up()
    {
        using var folder = new TempFolder();
        var log = new StringWriter();
        new Trainer(new TrainOptions
        {
            Steps = 5, Batch = 1, WarmupSteps = 1, Seed = 11, Precision = "fp32", Device = "cpu", OutDir = folder.Path,
            LogEvery = 1000, EvalEvery = 1000, EvalBoards = 1, CheckpointEvery = 1000, ProfileSteps = 2,
        }, log).Run();

        var text = log.ToString();
        Assert.Contains("profile of 2 steps on cpu", text);
        var phases = text.Split('\n').Where(line => line.StartsWith("| ") && !line.StartsWith("| phase") && !line.StartsWith("| ---")).Select(line => line.Split('|')[1].Trim()).ToArray();
        Assert.Equal(["batch (waiting for the worker)", "upload", "forward and loss", "backward", "clip", "AdamW", "all"], phases);
        var forward = text.Split('\n').Single(line => line.StartsWith("| forward and loss |"));
        Assert.True(double.Parse(forward.Split('|')[2], System.Globalization.CultureInfo.InvariantCulture) > 0, forward);
    }

    [Fact]
    public void A_run_whose_optimizer_state_is_per_tensor_resumes_with_fresh_moments_and_says_so()
    {
        using var folder = new TempFolder();
        var options = new TrainOptions
        {
            Steps = 2, Batch = 1, WarmupSteps = 1, Seed = 11, Precision = "fp32", Device = "cpu", OutDir = folder.Path,
            LogEvery = 1000, EvalEvery = 1000, EvalBoards = 1, CheckpointEvery = 1000,
        };
        new Trainer(options with { MaxMinutes = 0 }, TextWriter.Null).Run();
        var state = Path.Combine(folder.Path, "state.json");
        Assert.Contains("\"FlatOptimizer\":true", File.ReadAllText(state));
        File.WriteAllText(state, File.ReadAllText(state).Replace(",\"FlatOptimizer\":true", ""));   // as a run from before wrote it

        var log = new StringWriter();
        var resumed = new Trainer(options, log).Run();

        Assert.Equal(2, resumed.Steps);
        Assert.Contains("holds AdamW's moments per tensor (written before the parameters were one buffer); they start afresh", log.ToString());
    }

    [Fact]
    public void Held_out_accuracy_in_chunks_is_the_accuracy_of_each_board_alone()
    {
        using var model = new LifeGpt();
        Checkpoint.Load(model, Repository.ShippedModel);
        // a whole chunk and a remainder; board i's target has i cells flipped, so the shipped model (right on these boards)
        // gets 1024 - i cells of it right and only board 0 exact
        var boards = TrainingBoards.Batch(3, 0, (int)Trainer.EvalChunk(TorchSharp.DeviceType.CPU) + 1);
        var targets = boards.Select((b, i) => Enumerable.Range(0, i).Aggregate(LifeRule.Step(b),
            (t, k) => t.With(k, 3 * k, !t[k, 3 * k]))).ToArray();
        using var all = LifeGptCodec.Sequences(boards, targets, CPU);

        var together = Trainer.Evaluate(model, all);
        var alone = boards.Select((_, i) =>
        {
            using var one = all.narrow(0, i, 1);
            return Trainer.Evaluate(model, one);
        }).ToArray();

        Assert.Equal(alone.Average(a => a.Cells), together.Cells, 12);
        Assert.Equal(alone.Average(a => a.Boards), together.Boards, 12);
        Assert.Equal(1.0 / boards.Length, together.Boards, 12);
        Assert.True(alone.Select(a => a.Cells).Distinct().Count() > 1, "the boards should differ in how many cells are right");
    }

    [CudaFact]
    public void A_run_resumed_on_cuda_steps_with_its_reloaded_moments_on_the_gpu()
    {
        using var folder = new TempFolder();
        var options = new TrainOptions
        {
            Steps = 2, Batch = 1, WarmupSteps = 1, Seed = 11, Device = "cuda", OutDir = folder.Path,
            LogEvery = 1000, EvalEvery = 1000, EvalBoards = 1, CheckpointEvery = 1000,
        };
        new Trainer(options with { MaxMinutes = 0 }, TextWriter.Null).Run();

        var log = new StringWriter();
        var resumed = new Trainer(options, log).Run();   // before the fix: "Expected all tensors to be on the same device"

        Assert.Equal(2, resumed.Steps);
        Assert.Contains("resuming at step 1", log.ToString());
        Assert.DoesNotContain("start afresh", log.ToString());
    }

    private sealed class Recorder(List<TrainingProgress> reports) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => reports.Add(value);
    }

    private static Dictionary<string, byte[]> ZipEntries(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        return zip.Entries.ToDictionary(e => e.FullName, e =>
        {
            using var stream = e.Open();
            using var bytes = new MemoryStream();
            stream.CopyTo(bytes);
            return bytes.ToArray();
        });
    }

    private static Dictionary<string, byte[]> ReadWeights(string path)
    {
        var tensors = Checkpoint.Read(path);
        try
        {
            Assert.All(tensors.Values, t => Assert.Equal(ScalarType.Float32, t.dtype));
            return tensors.ToDictionary(e => e.Key, e => e.Value.contiguous().bytes.ToArray());
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }
}

/// <summary>
/// Training seeds and draws from libtorch's one global random generator (manual_seed, parameter initialisation), which
/// every test that builds a model also draws from: the bitwise resume test failed when such a test ran
/// beside it (seen in CI, and reported in the issues). These tests run alone, after the tests that run in parallel.
/// </summary>
[CollectionDefinition(nameof(TrainingTests), DisableParallelization = true)]
public sealed class TrainingCollection;

/// <summary>A fact that needs a CUDA device: skipped, with the reason, elsewhere.</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!cuda.is_available()) Skip = "needs a CUDA GPU: it resumes a run on CUDA";
    }
}

