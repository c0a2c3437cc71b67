using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Conway.Cli.CommandLine;

/// <summary>
/// The kinds of option the verbs take, each parsed strictly: a value that does not fit is a parse error naming the
/// option and the value (exit 2), never an exception later. Every option states its default in --help.
/// </summary>
public static class CliOptions
{
    public static Option<int> Whole(string name, int fallback, string description, int min = 0) =>
        Parsed(name, fallback, description, "N", text =>
            int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x) && x >= min ? x : null,
            min == int.MinValue ? "a whole number" : $"a whole number of at least {min}");

    public static Option<double> Number(string name, double fallback, string description, double min = 0) =>
        Parsed(name, fallback, description, "X", text => Finite(text, min), FormattableString.Invariant($"a number of at least {min}"));

    /// <summary>One of <paramref name="choices"/> (matched case-insensitively, given in lower case); help shows them as a|b|c.</summary>
    public static Option<string> Choice(string name, string fallback, string description, IReadOnlyCollection<string> choices) =>
        Parsed(name, fallback, description, string.Join('|', choices),
            text => Choices(text, choices) is [var one] ? one : null, Alternatives(choices));

    /// <summary>A comma-separated list of <paramref name="choices"/>; the action reads it with <see cref="Choices"/>.</summary>
    public static Option<string> ChoiceList(string name, string fallback, string description, IReadOnlyCollection<string> choices) =>
        Parsed(name, fallback, description, string.Join(',', choices),
            text => Choices(text, choices) is null ? null : text, "a comma-separated list of " + Alternatives(choices));

    /// <summary>A comma-separated list of whole numbers of at least 1; the action reads it with <see cref="Wholes"/>.</summary>
    public static Option<string> WholeList(string name, string fallback, string description) =>
        Parsed(name, fallback, description, "N,N,...", text => Wholes(text) is null ? null : text,
            "a comma-separated list of whole numbers of at least 1");

    /// <summary>A comma-separated list of finite numbers of at least 0; the action reads it with <see cref="Numbers"/>.</summary>
    public static Option<string> NumberList(string name, string fallback, string description) =>
        Parsed(name, fallback, description, "X,X,...", text => Numbers(text) is null ? null : text,
            "a comma-separated list of numbers of at least 0");

    /// <summary>The items of a comma-separated list of choices, in lower case; null if any is not one of them.</summary>
    public static string[]? Choices(string text, IReadOnlyCollection<string> choices)
    {
        var items = text.Split(',').Select(i => i.Trim().ToLowerInvariant()).ToArray();
        return items.All(choices.Contains) ? items : null;
    }

    /// <summary>The numbers of a comma-separated list of whole numbers of at least 1; null if any is not.</summary>
    public static int[]? Wholes(string text)
    {
        var items = text.Split(',').Select(i => int.TryParse(i, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x) && x >= 1 ? x : 0).ToArray();
        return items.All(x => x >= 1) ? items : null;
    }

    /// <summary>The numbers of a comma-separated list of finite numbers of at least 0; null if any is not.</summary>
    public static double[]? Numbers(string text)
    {
        var items = text.Split(',').Select(i => Finite(i, 0)).ToArray();
        return items.All(x => x is not null) ? items.Select(x => x!.Value).ToArray() : null;
    }

    /// <summary>The finite number of at least <paramref name="min"/> that <paramref name="text"/> spells (invariant culture), or null.</summary>
    private static double? Finite(string text, double min) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && x >= min && double.IsFinite(x) ? x : null;

    /// <summary>A text value; <paramref name="fallback"/> null means the option is off unless given.</summary>
    public static Option<string> Text(string name, string? fallback, string description, string helpName)
    {
        var option = new Option<string>(name) { Description = description, HelpName = helpName };
        if (fallback is not null) option.DefaultValueFactory = _ => fallback;
        return option;
    }

    /// <summary>--url: a running service's base URL, on loopback only (the HTTP load tests only target this machine).</summary>
    public static Option<string> LoopbackUrl(string fallback)
    {
        var url = Text("--url", fallback, "the service's base URL, on loopback only (localhost, 127.0.0.1 or [::1])", "URL");
        url.Validators.Add(result =>
        {
            string text = result.GetValueOrDefault<string>();
            if (!(Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.IsLoopback))
                result.AddError($"--url is an http(s) URL on loopback (the load tests only target this machine), not '{text}'");
        });
        return url;
    }

    public static Option<bool> Flag(string name, string description) =>
        new(name) { Description = description, Arity = ArgumentArity.Zero };

    /// <summary>--device: auto (CUDA when there is one), cpu, cuda or cuda:N.</summary>
    public static Option<string> Device() =>
        Parsed("--device", "auto", "where the model runs: auto (CUDA when there is one, else the CPU), cpu, cuda or cuda:N",
            "auto|cpu|cuda|cuda:N", text => text.Trim().ToLowerInvariant() is var d && (d is "auto" or "cpu" or "cuda"
                || d.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(d[5..], NumberStyles.None, CultureInfo.InvariantCulture, out _)) ? d : null,
            "auto, cpu, cuda or cuda:N");

    private static Option<T> Parsed<T>(string name, T fallback, string description, string helpName, Func<string, object?> parse, string expected)
    {
        return new Option<T>(name)
        {
            Description = description,
            HelpName = helpName,
            DefaultValueFactory = _ => fallback,
            CustomParser = result =>
            {
                if (result.Tokens.Count == 0) return fallback;
                string text = result.Tokens[0].Value;
                if (parse(text) is T value) return value;
                result.AddError($"{name} is {expected}, not '{text}'");
                return fallback;
            },
        };
    }

    private static string Alternatives(IReadOnlyCollection<string> names) =>
        names.Count == 1 ? names.First() : string.Join(", ", names.SkipLast(1)) + " or " + names.Last();
}
