using Conway.Cli;

// conway <verb> [--option value ...]: the project's offline tools (training, evaluation, benchmarks).
var verbs = new Dictionary<string, (string Help, Func<CliArgs, int> Run)>
{
    ["train"] = ("train LifeGPT from scratch on fresh boards from the exact rule", TrainCommand.Run),
    ["load"] = ("a bounded HTTP load test of a running service on loopback", LoadCommand.Run),
    ["bench"] = ("time greedy decoding (strategy x batch) against the card's floors", BenchCommand.Run),
    ["eval"] = ("greedy accuracy against the rule: random boards, patterns, paper test set, rollouts", EvalCommand.Run),
};

if (args.Length == 0 || !verbs.TryGetValue(args[0], out var verb))
{
    Console.Error.WriteLine("usage: conway <verb> [--option value ...]");
    foreach (var (name, (help, _)) in verbs) Console.Error.WriteLine($"  {name,-8} {help}");
    return 2;
}
try
{
    return verb.Run(CliArgs.Parse(args.Skip(1)));
}
catch (CliUsageException e)
{
    Console.Error.WriteLine($"conway {args[0]}: {e.Message}");
    return 2;
}
