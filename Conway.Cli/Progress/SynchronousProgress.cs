namespace Conway.Cli.Progress;

/// <summary>
/// An <see cref="IProgress{T}"/> that runs its handler on the reporting thread, at once (the BCL's Progress&lt;T&gt;
/// posts to the thread pool, so reports could arrive out of order or after the work ended).
/// </summary>
public sealed class SynchronousProgress<T>(Action<T> handler) : IProgress<T>
{
    public void Report(T value) => handler(value);
}
