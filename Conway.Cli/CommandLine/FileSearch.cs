namespace Conway.Cli.CommandLine;

/// <summary>
/// A file given relative to the repository root or the current folder: tried against the current folder, then each
/// folder above it (so the defaults work from the repository root and from its subfolders).
/// </summary>
public static class FileSearch
{
    /// <summary>The full path of the file, or null with the places tried.</summary>
    public static string? Locate(string path, out IReadOnlyList<string> tried)
    {
        var candidates = new List<string>();
        tried = candidates;
        if (string.IsNullOrWhiteSpace(path)) return null;
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = Path.IsPathRooted(path) ? null : dir.Parent)
        {
            string candidate = Path.GetFullPath(path, dir.FullName);
            if (File.Exists(candidate)) return candidate;
            if (!candidates.Contains(candidate)) candidates.Add(candidate);
        }
        return null;
    }

    /// <summary>The full path of the file; a usage error naming the places tried and what to do if it is not there.</summary>
    public static string Require(string path, string option, string hint) =>
        Locate(path, out var tried) ?? throw new CliUsageException(
            $"{option}: no file {path} (looked for {string.Join(", ", tried.Take(3))}{(tried.Count > 3 ? ", ..." : "")}); {hint}");
}
