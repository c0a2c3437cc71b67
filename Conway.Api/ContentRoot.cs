namespace Conway.Api;

/// <summary>
/// The service's content root is the folder of its binaries, where appsettings.json (JSON console logs, log levels),
/// the page (wwwroot) and the shipped model are copied, whatever folder it is started from: ASP.NET's default, the
/// working directory, would silently leave appsettings.json out when started from elsewhere. A content root given as
/// <c>--contentRoot</c>, <c>ASPNETCORE_CONTENTROOT</c> or <c>DOTNET_CONTENTROOT</c> still wins.
/// </summary>
public static class ContentRoot
{
    public static WebApplicationOptions Options(string[] args) => new()
    {
        Args = args,
        ContentRootPath = IsConfigured(args) ? null : AppContext.BaseDirectory,
    };

    private static bool IsConfigured(string[] args) =>
        new ConfigurationBuilder()
            .AddEnvironmentVariables("DOTNET_")
            .AddEnvironmentVariables("ASPNETCORE_")
            .AddCommandLine(args)
            .Build()[WebHostDefaults.ContentRootKey] is { Length: > 0 };
}
