using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Conway.Api.Endpoints;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>Deadlines at their edges: one that passes while the body is still arriving, and one that has just passed.</summary>
public sealed class DeadlineTests
{
    [Theory]
    [InlineData(100, 99, 1)]
    [InlineData(100, 100, 0)]
    [InlineData(100, 101, 0)]      // -1 ms left: as a timeout that would mean "never"
    [InlineData(1, 5000, 0)]
    public void Time_left_is_never_negative_so_a_passed_deadline_never_means_no_deadline(int deadlineMs, int elapsedMs, int expectedMs)
    {
        var left = Deadlines.TimeLeft(TimeSpan.FromMilliseconds(deadlineMs), TimeSpan.FromMilliseconds(elapsedMs));

        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), left);
    }

    [Theory]
    [InlineData("header")]         // known before the body: it stops the upload
    [InlineData("body")]           // known once the body is read: already passed by then
    public async Task A_deadline_that_passes_while_the_body_uploads_is_answered_504_and_never_reaches_the_model(string where)
    {
        await using var api = new ApiFactory().OnLoopback();
        await api.StartAsync();
        using var client = api.CreateLoopbackClient();
        string json = JsonSerializer.Serialize(where == "body"
            ? (object)new { board = Blinker.ToRows(), deadlineMs = 200 }
            : new { board = Blinker.ToRows() });
        var request = new HttpRequestMessage(HttpMethod.Post, "/predict") { Content = new SlowBody(json, pause: TimeSpan.FromSeconds(1)) };
        if (where == "header") request.Headers.Add("X-Deadline-Ms", "200");

        var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Contains("deadline of 200 ms passed", (string)(await BodyOf(response))["detail"]!);
        Assert.Empty(api.Predictor.Calls);
    }

    /// <summary>A JSON body sent in two halves with a pause between them, as a slow client uploads.</summary>
    private sealed class SlowBody : HttpContent
    {
        private readonly byte[] _bytes;
        private readonly TimeSpan _pause;

        public SlowBody(string json, TimeSpan pause)
        {
            (_bytes, _pause) = (Encoding.UTF8.GetBytes(json), pause);
            Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            int half = _bytes.Length / 2;
            await stream.WriteAsync(_bytes.AsMemory(0, half));
            await stream.FlushAsync();
            await Task.Delay(_pause);
            await stream.WriteAsync(_bytes.AsMemory(half));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _bytes.Length;
            return true;
        }
    }
}
