using System.Diagnostics;
using System.Net;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>Graceful shutdown: stop admitting, finish what was admitted, then exit.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task StoppingAdmission_TurnsReadinessDownAndRefusesNewWork503_WhileAdmittedWorkCompletes()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0", ["Model:MaxBatchBoards"] = "1" } };
        var client = await api.StartAsync();
        api.Predictor.Gate = gate;
        try
        {
            var admitted = Enumerable.Range(0, 3).Select(_ => client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).ToList();
            await Eventually(() => api.Predictor.Calls.Count == 1 && api.Worker.QueueLength == 2, "one request is in the model and two are queued");

            // what ApplicationStopping (SIGTERM) triggers; the Kestrel test below stops the whole host (the in-memory
            // test server does not wait for responses still being written when the host is disposed)
            api.Worker.StopAdmitting();

            var ready = await client.GetAsync("/healthz/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal("The instance is shutting down.", (string)(await BodyOf(ready))["checks"]!["model"]!["description"]!);
            var refused = await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Contains("shutting down", (string)(await BodyOf(refused))["detail"]!);
            gate.Set();
            Assert.All(await Task.WhenAll(admitted), response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        }
        finally
        {
            gate.Set();
        }
    }

    [Fact]
    public async Task HostStoppedUnderLoadOnKestrel_FinishesEveryInFlightRequestBeforeItExits()
    {
        var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0", ["Model:MaxBatchBoards"] = "1", ["Model:DrainSeconds"] = "20" } }.OnLoopback();
        try
        {
            await api.StartAsync();
            using var client = api.CreateLoopbackClient();
            api.Predictor.Delay = TimeSpan.FromMilliseconds(100);
            var inFlight = Enumerable.Range(0, 10).Select(_ => client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).ToList();
            await Eventually(() => api.Predictor.Calls.Count + api.Worker.QueueLength == 10, "all ten requests are admitted");

            var clock = Stopwatch.StartNew();
            await api.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

            Assert.All(await Task.WhenAll(inFlight).WaitAsync(TimeSpan.FromSeconds(5)), response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
            Assert.Equal(10, api.Predictor.Calls.Count);
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(20));
            var logs = api.Logs.AtLeast(LogLevel.Information).Select(entry => entry.Message).ToList();
            Assert.Contains(logs, message => message.StartsWith("Shutting down: admitting no new work"));
            Assert.Contains("Drained: every queued request was served", logs);
        }
        finally
        {
            await api.DisposeAsync();
        }
    }
}
