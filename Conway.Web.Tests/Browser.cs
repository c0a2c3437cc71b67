using System.Reflection;

namespace Conway.Web.Tests;

/// <summary>Where the browser tests find what they need: Chromium, Node.js, playwright-core, the built service.</summary>
internal static class Browser
{
    /// <summary>This project's folder: e2e.mjs, package.json and node_modules.</summary>
    public static string WebTestsDirectory { get; } = Metadata("WebTestsDirectory");

    /// <summary>Where each run leaves its screenshots: artifacts/screenshots at the repository root.</summary>
    public static string Screenshots { get; } = Path.GetFullPath(Path.Combine(WebTestsDirectory, "..", "artifacts", "screenshots"));

    /// <summary>Debian's Chromium, or CHROMIUM_PATH.</summary>
    public static string Chromium { get; } =
        Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    /// <summary>Why the browser tests cannot run here, or null when everything is installed.</summary>
    public static string? Missing { get; } = FindMissing();

    private static string? FindMissing()
    {
        if (!File.Exists(Chromium))
            return $"Chromium is not installed at {Chromium}: apt-get install -y chromium (.ci/run does).";
        if (FindOnPath("node") is null)
            return "Node.js is not on PATH: apt-get install -y nodejs npm (the machines here have Node.js 20).";
        if (!File.Exists(Path.Combine(WebTestsDirectory, "node_modules", "playwright-core", "package.json")))
            return $"playwright-core is not installed: npm ci in {WebTestsDirectory} (.ci/run does).";
        return null;
    }

    private static string? FindOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program))
            .FirstOrDefault(File.Exists);

    private static string Metadata(string key) =>
        typeof(Browser).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}

/// <summary>A fact that runs in a real browser: skipped, saying what is missing, where Chromium, Node.js or playwright-core is.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (Browser.Missing is { } reason) Skip = reason;
    }

    /// <summary>Also skipped where the shared data folder (../shared) is absent.</summary>
    public bool NeedsSharedData
    {
        get => false;
        set { if (value && Skip is null && Conway.Testing.SharedData.Root is null) Skip = Conway.Testing.SharedData.SkipReason; }
    }
}

/// <summary>
/// The browser test classes run one after another, not in parallel: each starts the real service, whose warm-up and
/// predictions take the machine's cores, and the tests' timings are not meant to share them.
/// </summary>
[CollectionDefinition(Name)]
public sealed class BrowserCollection
{
    public const string Name = "Browser";
}
