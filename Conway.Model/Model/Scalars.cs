using TorchSharp;

namespace Conway.Model;

/// <summary>
/// The constant TorchSharp <see cref="Scalar"/>s that model and decoding code passes to native calls, each made once
/// and held for the life of the process (a static field is never collected, so never finalised).
/// <para>
/// The rule (CONWAY001, enforced at compile time by Conway.Analyzers): never let a C# number become a Scalar or a
/// Tensor implicitly (<c>t.masked_fill(m, float.NegativeInfinity)</c>, <c>t * 0.5</c>, <c>1 - t</c>). The temporary
/// native object that such a conversion makes is held by nothing while libtorch reads it, and in Release code a
/// garbage collection can finalise it mid-call ("toFloat at c10/core/Scalar.h:140", or a silently wrong value). Use
/// one of these, a constant field of the owning class, or, for a value known only at run time,
/// <c>using var s = value.ToScalar();</c> held across the call.
/// </para>
/// </summary>
public static class Scalars
{
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar NegativeInfinity = float.NegativeInfinity.ToScalar();
}
