namespace Conway.Api.Observability;

/// <summary>
/// <c>dotnet Conway.Api.dll --healthcheck</c>: the container's HEALTHCHECK (the ASP.NET image has no curl or wget).
/// Asks this container's service for <c>/healthz/ready</c> on the first port of ASPNETCORE_HTTP_PORTS (default
/// 8080) and exits 0 when it answers 200, else 1.
/// </summary>
public static class HealthProbe
{
    public const string Argument = "--healthcheck";

    public static async Task<int> RunAsync()
    {
        string port = (Environment.GetEnvironmentVariable("ASPNETCORE_HTTP_PORTS") ?? "8080").Split(',', ';')[0].Trim();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await http.GetAsync($"http://127.0.0.1:{port}/healthz/ready");
            Console.WriteLine($"/healthz/ready: {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Console.WriteLine($"/healthz/ready: {e.Message}");
            return 1;
        }
    }
}
