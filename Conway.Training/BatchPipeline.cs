using Conway.Boards;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Training;

/// <summary>
/// A run's batches: each is made on a worker thread while the step before it runs, and on CUDA it is uploaded from
/// pinned memory without waiting. A copy from ordinary host memory first waits for all the work queued on the device,
/// so every step used to wait for the one before it to finish before it could queue its first kernel.
/// </summary>
internal sealed class BatchPipeline(Func<int, Board[]> boards, Device device) : IDisposable
{
    private (int Step, Task<Tensor> Sequences)? _next;

    /// <summary>
    /// Step <paramref name="step"/>'s full sequences [B, 2071] on the device, in the caller's dispose scope; starts making
    /// step <paramref name="next"/>'s (null: none follows).
    /// </summary>
    public Tensor Take(int step, int? next, StepProfile profile)
    {
        var made = _next is { } pending && pending.Step == step ? pending.Sequences : Make(step);
        _next = next is int n ? (n, Make(n)) : null;
        using var sequences = made.GetAwaiter().GetResult();
        profile.Mark("batch (waiting for the worker)");
        var onDevice = sequences.to(device, non_blocking: true);
        profile.Mark("upload");
        return onDevice;
    }

    /// <summary>On the host, pinned when the device is CUDA (pinned blocks are kept until the copies reading them are done).</summary>
    private Task<Tensor> Make(int step) => Task.Run(() =>
    {
        var sequences = Trainer.Sequences(boards(step), CPU);
        if (device.type != DeviceType.CUDA) return sequences;
        using (sequences) return sequences.pin_memory();
    });

    /// <summary>Frees the batch made ahead for a step that did not run (a run stopped early); a failure to make it is moot.</summary>
    public void Dispose()
    {
        if (_next is { } pending) pending.Sequences.ContinueWith(t => { if (t.IsCompletedSuccessfully) t.Result.Dispose(); }).Wait();
    }
}
