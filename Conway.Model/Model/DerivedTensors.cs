using static TorchSharp.torch;

namespace Conway.Model;

/// <summary>
/// A module's decoding layouts (<see cref="LifeGpt.PrepareForDecoding"/>): tensors derived from its parameters, not
/// state. They are not registered with the module, so state_dict, checkpoints and <c>to()</c> never see them; they are
/// detached from autograd and from dispose scopes, and freed when derived again or when the module is disposed.
/// </summary>
internal sealed class DerivedTensors : IDisposable
{
    private readonly List<Tensor> _owned = [];

    /// <summary>Keeps t, detached and contiguous: a view of the same storage when t already is contiguous (a parameter as it is).</summary>
    public Tensor Own(Tensor t)
    {
        var owned = t.detach().contiguous().DetachFromDisposeScope();
        _owned.Add(owned);
        return owned;
    }

    /// <summary>Frees everything kept so far.</summary>
    public void Clear()
    {
        foreach (var t in _owned) t.Dispose();
        _owned.Clear();
    }

    public void Dispose() => Clear();
}
