namespace Conway.Cli.CommandLine;

/// <summary>A mistake in what the user asked for (a value, a file, a device): one line on stderr and exit code 2.</summary>
public sealed class CliUsageException(string message) : Exception(message);
