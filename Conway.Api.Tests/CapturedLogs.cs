using System.Collections.Concurrent;

namespace Conway.Api.Tests;

/// <param name="Scopes">The values of the scopes the entry was logged in (e.g. RequestId).</param>
public sealed record LogEntry(LogLevel Level, string Category, string Message, IReadOnlyDictionary<string, object?> Scopes, Exception? Error);

/// <summary>A logger provider that keeps every entry with its scopes, for asserting what the service logged.</summary>
public sealed class CapturedLogs : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

    public IEnumerable<LogEntry> AtLeast(LogLevel level) => _entries.Where(entry => entry.Level >= level);

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, this);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() { }

    private sealed class Logger(string category, CapturedLogs logs) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => logs._scopes.Push(state);
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var scopes = new Dictionary<string, object?>();
            logs._scopes.ForEachScope((scope, values) =>
            {
                if (scope is IEnumerable<KeyValuePair<string, object?>> pairs)
                    foreach (var (key, value) in pairs) values[key] = value;
                else if (scope is IEnumerable<KeyValuePair<string, object>> objects)
                    foreach (var (key, value) in objects) values[key] = value;
            }, scopes);
            logs._entries.Enqueue(new LogEntry(logLevel, category, formatter(state, exception), scopes, exception));
        }
    }
}
