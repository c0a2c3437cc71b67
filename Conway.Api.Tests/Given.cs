using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Conway.Boards;

namespace Conway.Api.Tests;

/// <summary>Boards, request bodies and waiting, shared by the tests.</summary>
public static class Given
{
    public static readonly Board Glider = Board.Empty.With(0, 1, true).With(1, 2, true).With(2, 0, true).With(2, 1, true).With(2, 2, true);
    public static readonly Board Blinker = Board.Empty.With(1, 0, true).With(1, 1, true).With(1, 2, true);
    public static readonly Board Block = Board.Empty.With(5, 5, true).With(5, 6, true).With(6, 5, true).With(6, 6, true);

    /// <summary>A row: the given leading cells, then dead cells to 32.</summary>
    public static string Row(string start = "") => start.PadRight(Board.Size, '0');

    public static StringContent Json(object body) => Json(JsonSerializer.Serialize(body));

    public static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    public static ByteArrayContent Bytes(byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    /// <summary>The value of one series (name and labels, exactly as written) in Prometheus text.</summary>
    public static double MetricValue(string metrics, string series)
    {
        var line = metrics.Split('\n').SingleOrDefault(line => line.StartsWith(series + " "));
        Assert.True(line is not null, $"no series {series}");
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    public static async Task<JsonNode> BodyOf(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync())!;

    public static async Task Eventually(Func<bool> condition, string what, int seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting until {what}.");
            await Task.Delay(5);
        }
    }
}
