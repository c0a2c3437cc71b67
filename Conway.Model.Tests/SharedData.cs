namespace Conway.Testing;

/// <summary>
/// The shared data folder (LifeGPT test sets, conformance checkpoint) that sits next to the repository root
/// (<c>&lt;repo&gt;/../shared</c>). Found by walking up from the test binaries; null where it is absent.
/// </summary>
public static class SharedData
{
    public const string SkipReason = "needs ../shared/data (present in CI)";

    public static string? Root { get; } = Find();

    /// <summary>A path under the shared folder, e.g. <c>Path("data", "lifegpt", "x.csv")</c>.</summary>
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([Root ?? throw new InvalidOperationException(SkipReason), .. parts]);

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = System.IO.Path.Combine(dir.FullName, "shared");
            if (Directory.Exists(System.IO.Path.Combine(candidate, "data", "lifegpt"))) return candidate;
        }
        return null;
    }
}

/// <summary>A fact that is skipped, with the reason, where the shared data folder is absent.</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute()
    {
        if (SharedData.Root is null) Skip = SharedData.SkipReason;
    }
}

/// <summary>A theory that is skipped, with the reason, where the shared data folder is absent.</summary>
public sealed class SharedDataTheoryAttribute : TheoryAttribute
{
    public SharedDataTheoryAttribute()
    {
        if (SharedData.Root is null) Skip = SharedData.SkipReason;
    }
}
