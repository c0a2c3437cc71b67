namespace Conway.Testing;

/// <summary>The repository root: the first folder above the test binaries that holds Conway.sln.</summary>
public static class Repository
{
    public static string Root { get; } = Find();

    public static string ShippedModel => Path.Combine(Root, "models", "lifegpt.safetensors");
    public static string ShippedModelCard => Path.Combine(Root, "models", "lifegpt.train.json");

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Conway.sln"))) return dir.FullName;
        throw new InvalidOperationException($"No Conway.sln above {AppContext.BaseDirectory}.");
    }
}
