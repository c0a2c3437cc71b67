using System.Collections.Concurrent;

namespace Conway.Api.Serving;

/// <summary>
/// Which weights of each served model new work gets: generation 0 is what was loaded at start, and each successful
/// reload adds one. A request is pinned to the generation that is current when its first boards go into a batch, so
/// that all of its boards are decoded by the same weights even when a reload swaps them meanwhile. Thread-safe.
/// </summary>
public sealed class ModelGenerations
{
    private readonly ConcurrentDictionary<string, int> _current = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, int> _issued = new(StringComparer.OrdinalIgnoreCase);

    public int Current(string model) => _current.GetValueOrDefault(model);

    /// <summary>A generation number never used before for <paramref name="model"/>, for weights being loaded beside the current ones.</summary>
    public int Next(string model) => _issued.AddOrUpdate(model, 1, (_, last) => last + 1);

    /// <summary>From now on new work for <paramref name="model"/> gets <paramref name="generation"/>.</summary>
    public void Swap(string model, int generation) => _current[model] = generation;
}
