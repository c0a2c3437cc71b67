using System.Diagnostics;
using System.Globalization;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Training;

/// <summary>
/// Where a training step's time goes (<c>conway train --profile N</c>): in a profiled step each phase waits for the
/// device before the next begins, so a phase's time is its own device work plus the host's time to launch it. The
/// waits themselves cost a little, so the profiled steps' total is at least an unprofiled step's (the log's ms/step).
/// An unprofiled step never waits: <see cref="Mark"/> does nothing.
/// </summary>
internal sealed class StepProfile(Device device)
{
    private readonly Dictionary<string, double> _milliseconds = [];
    private readonly List<string> _order = [];
    private readonly Stopwatch _clock = new();
    private bool _active;

    public int Steps { get; private set; }

    /// <summary>Starts a profiled step (when <paramref name="profiled"/>), after waiting for all work before it.</summary>
    public void Begin(bool profiled)
    {
        _active = profiled;
        if (!profiled) return;
        Synchronize();
        Steps++;
        _clock.Restart();
    }

    /// <summary>Ends <paramref name="phase"/> of a profiled step: waits for the device and adds the time since the last mark.</summary>
    public void Mark(string phase)
    {
        if (!_active) return;
        Synchronize();
        if (!_milliseconds.ContainsKey(phase)) _order.Add(phase);
        _milliseconds[phase] = _milliseconds.GetValueOrDefault(phase) + _clock.Elapsed.TotalMilliseconds;
        _clock.Restart();
    }

    /// <summary>A markdown table: each phase's mean time a step and its share of the profiled steps' total.</summary>
    public string Table()
    {
        double total = _milliseconds.Values.Sum();
        var table = new StringBuilder($"profile of {Steps} steps on {device} (each phase waits for the device)\n\n| phase | ms a step | share |\n| --- | ---: | ---: |\n");
        foreach (var phase in _order)
            table.Append(CultureInfo.InvariantCulture, $"| {phase} | {_milliseconds[phase] / Steps:F2} | {_milliseconds[phase] / total:P1} |\n");
        table.Append(CultureInfo.InvariantCulture, $"| all | {total / Steps:F2} | 100% |\n");
        return table.ToString();
    }

    private void Synchronize()
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize(device);
    }
}
