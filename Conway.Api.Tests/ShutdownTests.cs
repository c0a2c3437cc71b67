using System.Net;
using Conway.Api.Serving;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

/// <summary>
/// Graceful shutdown, in process with the test double: stop admitting at once, keep the listener for the shutdown
/// delay, drain, answer what the drain left 503, join the device threads. <see cref="SigtermTests"/> does it to the
/// real process.
/// </summary>
public sealed class ShutdownTests
{
    [Fact]
    public void ShutdownTimeout_IsTheDelayPlusTheDrainPlusAMargin()
    {
        using var api = new ApiFactory { Settings = { ["Model:ShutdownDelaySeconds"] = "7", ["Model:DrainSeconds"] = "20" } };

        var timeout = api.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout;

        Assert.Equal(TimeSpan.FromSeconds(7 + 20) + ModelOptions.ShutdownMargin, timeout);
        Assert.InRange(ModelOptions.ShutdownMargin, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task StoppingAdmission_TurnsReadinessDownAndRefusesNewWork503WithRetryAfter_WhileAdmittedWorkCompletes()
    {
        using var gate = new ManualResetEventSlim();
        await using var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0", ["Model:MaxBatchBoards"] = "1" } };
        var client = await api.StartAsync();
        api.Predictor.Gate = gate;
        try
        {
            var admitted = Enumerable.Range(0, 3).Select(_ => client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).ToList();
            await Eventually(() => api.Predictor.Calls.Count == 1 && api.ModelHost.QueueLength == 2, "one request is in the model and two are queued");

            // what ApplicationStopping (SIGTERM) triggers; the Kestrel tests below stop the whole host (the in-memory
            // test server does not wait for responses still being written when the host is disposed)
            api.ModelHost.StopAdmitting();

            var ready = await client.GetAsync("/healthz/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal("The instance is shutting down.", (string)(await BodyOf(ready))["checks"]!["model"]!["description"]!);
            var refused = await client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
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
    public async Task DuringTheShutdownDelay_TheListenerStillAcceptsConnections_ReadinessIs503_AndNewPredictionsGet503WithRetryAfter()
    {
        using var gate = new ManualResetEventSlim();
        var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0", ["Model:ShutdownDelaySeconds"] = "5" } }.OnLoopback();
        try
        {
            await api.StartAsync();
            using var client = api.CreateLoopbackClient();
            api.Predictor.Gate = gate;
            var inFlight = client.PostAsync("/predict", Json(new { board = Glider.ToRows() }));
            await Eventually(() => api.Predictor.Calls.Count == 1, "a request is in the model");

            var stopping = api.DisposeAsync().AsTask();
            await Eventually(() => api.Logs.AtLeast(LogLevel.Information).Any(entry => entry.Message.StartsWith("Still accepting connections for 5 s")),
                "the shutdown delay has started");

            using var newcomer = api.CreateLoopbackClient(); // its own handler: a new connection
            var ready = await newcomer.GetAsync("/healthz/ready");
            var refused = await newcomer.PostAsync("/predict", Json(new { board = Blinker.ToRows() }));

            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal("The instance is shutting down.", (string)(await BodyOf(ready))["checks"]!["model"]!["description"]!);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
            Assert.Contains("shutting down", (string)(await BodyOf(refused))["detail"]!);
            gate.Set();
            Assert.Equal(HttpStatusCode.OK, (await inFlight.WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
            await stopping.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Single(api.Predictor.Calls);
        }
        finally
        {
            gate.Set();
            await api.DisposeAsync();
        }
    }

    [Fact]
    public async Task HostStoppedUnderLoadOnKestrel_FinishesEveryInFlightRequestWithinTheDrain_ThenJoinsTheDeviceThread()
    {
        var api = new ApiFactory { Settings = { ["Model:MaxWaitMs"] = "0", ["Model:MaxBatchBoards"] = "1", ["Model:DrainSeconds"] = "20" } }.OnLoopback();
        try
        {
            await api.StartAsync();
            using var client = api.CreateLoopbackClient();
            api.Predictor.Delay = TimeSpan.FromMilliseconds(100);
            var inFlight = Enumerable.Range(0, 10).Select(_ => client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).ToList();
            await Eventually(() => api.Predictor.Calls.Count + api.ModelHost.QueueLength == 10, "all ten requests are admitted");

            await api.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));

            Assert.All(await Task.WhenAll(inFlight).WaitAsync(TimeSpan.FromSeconds(5)), response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
            Assert.Equal(10, api.Predictor.Calls.Count);
            var logs = api.Logs.AtLeast(LogLevel.Information).Select(entry => entry.Message).ToList();
            Assert.Contains(logs, message => message.StartsWith("Shutting down: readiness is down"));
            Assert.Contains("Drained: every admitted request was answered", logs);
            Assert.Equal("Stopped the model: 1 device thread(s) joined", logs.Last(message => message.StartsWith("Stopped the model")));
            Assert.DoesNotContain(api.Logs.AtLeast(LogLevel.Warning), entry => entry.Category.StartsWith("Conway"));
        }
        finally
        {
            await api.DisposeAsync();
        }
    }

    [Fact]
    public async Task DrainThatEnds_AnswersEveryUnfinishedRequest503WithRetryAfter_WhileTheModelIsBusy_ThenStopsAndJoinsIt()
    {
        using var gate = new ManualResetEventSlim();
        var api = new ApiFactory
        {
            Settings = { ["Model:MaxWaitMs"] = "0", ["Model:MaxBatchBoards"] = "1", ["Model:QueueCapacity"] = "16", ["Model:DrainSeconds"] = "1" },
        }.OnLoopback();
        try
        {
            await api.StartAsync();
            using var client = api.CreateLoopbackClient();
            api.Predictor.Gate = gate; // the model is "inside native code" until the gate opens
            var inFlight = Enumerable.Range(0, 10).Select(_ => client.PostAsync("/predict", Json(new { board = Glider.ToRows() }))).ToList();
            await Eventually(() => api.Predictor.Calls.Count == 1 && api.ModelHost.QueueLength == 9, "one request is in the model and nine are queued");

            var stopping = api.DisposeAsync().AsTask();
            var answers = await Task.WhenAll(inFlight).WaitAsync(TimeSpan.FromSeconds(30));

            Assert.All(answers, response => Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode));
            Assert.All(answers, response => Assert.Equal("1", response.Headers.RetryAfter?.ToString()));
            Assert.Contains("drain, Model:DrainSeconds, ended", (string)(await BodyOf(answers[0]))["detail"]!);
            Assert.False(stopping.IsCompleted, "the host must not return while its device thread is still in the model");
            gate.Set();
            await stopping.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Single(api.Predictor.Calls);
            Assert.Equal(1, api.Predictor.Cancelled); // the batch in the model stopped at its next cancellation point
            var logs = api.Logs.AtLeast(LogLevel.Information).Select(entry => entry.Message).ToList();
            Assert.Contains(logs, message => message.StartsWith("The drain of 1 s ended with 10 requests unanswered"));
            Assert.Contains(logs, message => message.StartsWith("Stopped a batch of 1 boards on cpu: the drain ended"));
            Assert.Equal("Stopped the model: 1 device thread(s) joined", logs.Last(message => message.StartsWith("Stopped the model")));
        }
        finally
        {
            gate.Set();
            await api.DisposeAsync();
        }
    }

    [Theory]
    [InlineData("client leaves")]
    [InlineData("deadline passes")]
    public async Task RequestWhoseClientLeavesOrWhoseDeadlinePassesDuringTheDrain_IsStoppedBetweenDecodeSteps_NotComputedToTheEnd(string how)
    {
        var api = new ApiFactory { Settings = { ["Model:DrainSeconds"] = "60" } }.OnLoopback();
        try
        {
            await api.StartAsync();
            using var client = api.CreateLoopbackClient();
            api.Predictor.Delay = TimeSpan.FromSeconds(1); // per board: 8 s for the batch if computed to the end
            using var leave = new CancellationTokenSource();
            var request = new HttpRequestMessage(HttpMethod.Post, "/predict/batch") { Content = Json(new { boards = Enumerable.Repeat(Glider.ToRows(), 8) }) };
            if (how == "deadline passes") request.Headers.Add("X-Deadline-Ms", "3000");
            var inFlight = client.SendAsync(request, leave.Token);
            await Eventually(() => api.Predictor.Calls.Count == 1, "the batch is in the model");

            var stopping = api.DisposeAsync().AsTask();
            await Eventually(() => api.Logs.AtLeast(LogLevel.Information).Any(entry => entry.Message.StartsWith("Draining:")),
                "the drain has started");
            if (how == "client leaves") leave.Cancel();

            if (how == "client leaves") await Assert.ThrowsAnyAsync<OperationCanceledException>(() => inFlight);
            else Assert.Equal(HttpStatusCode.GatewayTimeout, (await inFlight.WaitAsync(TimeSpan.FromSeconds(30))).StatusCode);
            await stopping.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.InRange(api.Predictor.Cancelled, 1, 7);
            Assert.Contains(api.Logs.AtLeast(LogLevel.Information),
                entry => entry.Message.StartsWith("Stopped a batch of 8 boards on cpu: every request in it was cancelled or expired"));
        }
        finally
        {
            await api.DisposeAsync();
        }
    }
}
