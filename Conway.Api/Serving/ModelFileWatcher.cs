using Microsoft.Extensions.Options;

namespace Conway.Api.Serving;

/// <summary>
/// With <see cref="ModelOptions.WatchFiles"/>: reloads a model (<see cref="ModelHost.ReloadAsync"/>) when its
/// checkpoint file is written, replaced or renamed into place, once the file has been quiet for
/// <see cref="ModelOptions.ReloadDelayMs"/> (a copy in progress is not loaded half-written).
/// </summary>
public sealed class ModelFileWatcher(ModelHost host, IOptions<ModelOptions> options, ILogger<ModelFileWatcher> logger) : IHostedService, IDisposable
{
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly Dictionary<string, CancellationTokenSource> _pending = new(StringComparer.OrdinalIgnoreCase);
    private readonly CancellationTokenSource _stopping = new();

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.WatchFiles) return Task.CompletedTask;
        foreach (var model in host.Served)
        {
            string path = Path.GetFullPath(model.Path);
            if (Path.GetDirectoryName(path) is not { } folder || !Directory.Exists(folder)) continue;
            var watcher = new FileSystemWatcher(folder, Path.GetFileName(path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            FileSystemEventHandler changed = (_, _) => Schedule(model.Name);
            watcher.Changed += changed;
            watcher.Created += changed;
            watcher.Renamed += (_, _) => Schedule(model.Name);
            try
            {
                watcher.EnableRaisingEvents = true;
            }
            catch (IOException e)   // e.g. the inotify limits are reached: the service still serves, reloads by the API only
            {
                watcher.Dispose();
                logger.LogWarning("Cannot watch {File} for changes ({Reason}); it reloads only by POST /models/{Model}/reload",
                    Path.GetFileName(path), e.Message, model.Name);
                continue;
            }
            _watchers.Add(watcher);
            logger.LogInformation("Watching {File} for changes: model {Model} reloads when it changes", Path.GetFileName(path), model.Name);
        }
        return Task.CompletedTask;
    }

    /// <summary>(Re)starts the model's quiet period; when it ends without another change, the model reloads.</summary>
    private void Schedule(string model)
    {
        CancellationTokenSource quiet;
        lock (_pending)
        {
            if (_stopping.IsCancellationRequested) return;
            if (_pending.Remove(model, out var earlier)) earlier.Cancel();
            _pending[model] = quiet = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        }
        _ = ReloadWhenQuietAsync(model, quiet);
    }

    private async Task ReloadWhenQuietAsync(string model, CancellationTokenSource quiet)
    {
        try
        {
            await Task.Delay(options.Value.ReloadDelayMs, quiet.Token);
            lock (_pending)
                if (_pending.GetValueOrDefault(model) == quiet) _pending.Remove(model);
            logger.LogInformation("The checkpoint of model {Model} changed", model);
            await host.ReloadAsync(model, "file", _stopping.Token);
        }
        catch (OperationCanceledException)
        {
            // another change restarted the quiet period, or the instance is stopping
        }
        finally
        {
            quiet.Dispose();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Stop();
        return Task.CompletedTask;
    }

    public void Dispose() => Stop();

    /// <summary>No more reloads from file changes; one already running goes on (the model host serialises it).</summary>
    private void Stop()
    {
        lock (_pending)
        {
            if (_stopping.IsCancellationRequested) return;
            _stopping.Cancel();
        }
        foreach (var watcher in _watchers) watcher.Dispose();
    }
}
