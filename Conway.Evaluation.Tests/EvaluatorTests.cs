using Conway.Boards;
using Conway.Decoding;

namespace Conway.Evaluation.Tests;

public class EvaluatorTests
{
    private const int Steps = 6;

    /// <summary>Three true trajectories of 7 states: a glider, and two random soups.</summary>
    private static readonly Board[][] Trajectories =
    [
        Trajectory(Patterns.Named["glider"]),
        Trajectory(Board.Random(0.3, new Random(1))),
        Trajectory(Board.Random(0.3, new Random(2))),
    ];

    private static Board[] Trajectory(Board start) => Enumerable.Range(0, Steps + 1).Select(g => LifeRule.Step(start, g)).ToArray();

    [Fact]
    public void Rollouts_report_the_first_step_each_rollout_leaves_the_truth()
    {
        var predictor = new RuleBreakingPredictor(new Dictionary<Board, int>
        {
            [Trajectories[0][3]] = 2,   // the 4th prediction of rollout 1 has 2 wrong cells
            [Trajectories[2][0]] = 1,   // the 1st prediction of rollout 3 has 1 wrong cell
            [Trajectories[2][4]] = 5,   // never reached: rollout 3 already left the truth
        });

        var results = new Evaluator(predictor, DecodeOptions.Greedy, batch: 256).Rollouts(Trajectories, Steps);

        Assert.Equal([4, null, 1], results.Select(r => r.FirstWrongStep));
        Assert.Equal([2, 0, 1], results.Select(r => r.WrongCells));
        Assert.Equal([5, Trajectories[1][0].Population, Trajectories[2][0].Population], results.Select(r => r.InitialPopulation));
        Assert.Equal([3, 2, 2, 2, 1, 1, 1], Evaluator.Survival(results, Steps));
    }

    [Fact]
    public void Rollouts_predict_all_exact_rollouts_together_once_per_step_and_drop_those_that_left_the_truth()
    {
        var predictor = new RuleBreakingPredictor(new Dictionary<Board, int> { [Trajectories[1][1]] = 3 });

        var results = new Evaluator(predictor, DecodeOptions.Greedy, batch: 256).Rollouts(Trajectories, Steps);

        Assert.Equal([null, 2, null], results.Select(r => r.FirstWrongStep));
        Assert.Equal([3, 3, 2, 2, 2, 2], predictor.CallSizes);
    }

    [Fact]
    public void Rollouts_that_never_err_stay_exact_for_every_step()
    {
        var results = new Evaluator(new RuleBreakingPredictor(), DecodeOptions.Greedy, batch: 2).Rollouts(Trajectories, Steps);

        Assert.All(results, r => Assert.Null(r.FirstWrongStep));
        Assert.Equal(Enumerable.Repeat(3, Steps + 1), Evaluator.Survival(results, Steps));
    }

    [Fact]
    public void Rollouts_need_trajectories_longer_than_the_steps()
    {
        var evaluator = new Evaluator(new RuleBreakingPredictor(), DecodeOptions.Greedy, batch: 256);
        Assert.Throws<ArgumentOutOfRangeException>(() => evaluator.Rollouts(Trajectories, Steps + 1));
    }

    [Fact]
    public void Grade_counts_the_wrong_cells_of_every_board_in_batches_of_at_most_the_batch_size()
    {
        var cases = EvalCases.Random(5, seed: 3);
        var predictor = new RuleBreakingPredictor(new Dictionary<Board, int> { [cases[1].Input] = 4, [cases[4].Input] = 1 });

        var graded = new Evaluator(predictor, DecodeOptions.Greedy, batch: 2).Grade(cases);

        Assert.Equal([0, 4, 0, 0, 1], graded.Select(g => g.WrongCells));
        Assert.Equal(cases, graded.Select(g => g.Case));
        Assert.Equal([2, 2, 1], predictor.CallSizes);
    }

    [Fact]
    public void Grade_and_rollouts_report_their_progress_at_the_start_and_after_every_batch_and_every_step()
    {
        var cases = EvalCases.Random(5, seed: 3);
        var predictor = new RuleBreakingPredictor(new Dictionary<Board, int> { [cases[1].Input] = 4, [Trajectories[2][1]] = 1 });
        var reports = new List<EvalProgress>();
        var evaluator = new Evaluator(predictor, DecodeOptions.Greedy, batch: 2, new Recorder(reports));

        evaluator.Grade(cases);
        evaluator.Rollouts(Trajectories, 3);

        Assert.Equal(
        [
            new("graded boards", 0, 5, ""), new("graded boards", 2, 5, "1 exact"), new("graded boards", 4, 5, "3 exact"), new("graded boards", 5, 5, "4 exact"),
            new("rollout steps", 0, 3, "3 rollouts"), new("rollout steps", 1, 3, "3 of 3 rollouts still exact"), new("rollout steps", 2, 3, "2 of 3 rollouts still exact"),
            new("rollout steps", 3, 3, "2 of 3 rollouts still exact"),
        ], reports);
    }

    private sealed class Recorder(List<EvalProgress> reports) : IProgress<EvalProgress>
    {
        public void Report(EvalProgress value) => reports.Add(value);
    }
}
