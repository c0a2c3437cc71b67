using System.Globalization;

namespace Conway.Cli;

/// <summary><c>--name value</c> pairs and <c>--flag</c>s; every option read is checked off, unknown ones are an error.</summary>
public sealed class CliArgs
{
    private readonly Dictionary<string, string?> _options;
    private readonly HashSet<string> _read = [];

    private CliArgs(Dictionary<string, string?> options) => _options = options;

    public static CliArgs Parse(IEnumerable<string> args)
    {
        var options = new Dictionary<string, string?>();
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            if (!list[i].StartsWith("--", StringComparison.Ordinal)) throw new CliUsageException($"unexpected '{list[i]}'");
            string name = list[i][2..];
            bool hasValue = i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal);
            options[name] = hasValue ? list[++i] : null;
        }
        return new CliArgs(options);
    }

    public string String(string name, string fallback) => Get(name) ?? fallback;
    public string? Optional(string name) => Get(name);
    public bool Flag(string name) => _read.Add(name) && _options.ContainsKey(name);

    public int Int(string name, int fallback) => Get(name) is { } v
        ? int.TryParse(v, CultureInfo.InvariantCulture, out int x) ? x : throw new CliUsageException($"--{name} needs a whole number, not '{v}'")
        : fallback;

    public double Double(string name, double fallback) => Get(name) is { } v
        ? double.TryParse(v, CultureInfo.InvariantCulture, out double x) ? x : throw new CliUsageException($"--{name} needs a number, not '{v}'")
        : fallback;

    /// <summary>Fails on options nobody asked for (typos must not be silently ignored).</summary>
    public void EnsureAllUsed()
    {
        var unknown = _options.Keys.Where(k => !_read.Contains(k)).ToList();
        if (unknown.Count > 0) throw new CliUsageException($"unknown option(s): {string.Join(", ", unknown.Select(k => "--" + k))}");
    }

    private string? Get(string name)
    {
        _read.Add(name);
        return _options.TryGetValue(name, out var v) ? v ?? throw new CliUsageException($"--{name} needs a value") : null;
    }
}

public sealed class CliUsageException(string message) : Exception(message);
