using TorchSharp;
using static TorchSharp.torch;

namespace Conway.Model;

/// <summary>
/// Rotary embedding, "rotate halves" (GPT-NeoX) on the first 32 channels of each head: with x1 = channels 0..15 and
/// x2 = 16..31, out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin, that is x cos + <see cref="RotateHalf"/>(x) sin.
/// The cos/sin tables for all 2071 positions are computed once (from the checkpoint's inv_freq buffer).
/// <para>
/// The one definition of the rotation is <see cref="Apply"/> with <see cref="RotateHalf"/>; training and decoding project
/// the rotate-half with the weights (<see cref="RotateHalfRows"/>), for training's <see cref="ApplyWithRotatedHalves"/> and
/// a pass's <see cref="ApplyInPlace"/>, and a step uses each position's rotation as a matrix (<see cref="Matrices"/>).
/// </para>
/// </summary>
public sealed class RotaryEmbedding : nn.Module
{
    private const int Half = LifeGptShape.RotaryDim / 2;
    private Tensor? _cos, _sin, _cos16, _sin16, _negatedSin16;

    public RotaryEmbedding() : base(nameof(RotaryEmbedding))
    {
        // inv_freq(j) = 10000^(-j / 32) for j = 0, 2, ..., 30 (every value held across its native calls: see Scalars)
        using Scalar start = 0.ToScalar(), stop = LifeGptShape.RotaryDim.ToScalar(), step = 2.ToScalar();
        using var theta = tensor(10000.0);
        using var j = arange(start, stop, step, ScalarType.Float32);
        using var exponent = j.div(stop).neg_();
        register_buffer("inv_freq", pow(theta, exponent));
    }

    // not named inv_freq: TorchSharp's Module.to() would try to assign a moved buffer to a member of that name
    private Tensor InvFreq => get_buffer("inv_freq")!;

    /// <summary>cos and sin [L, 32] for positions start..start+L-1, as views of the precomputed tables.</summary>
    public (Tensor Cos, Tensor Sin) Tables(int start, int length)
    {
        if (_cos is null || _cos.device_type != InvFreq.device_type || _cos.device_index != InvFreq.device_index)
            PrecomputeTables(InvFreq.device);
        return (_cos!.narrow(0, start, length), _sin!.narrow(0, start, length));
    }

    /// <summary>
    /// The tables in bfloat16 for all 2071 positions, [2071, 32], and -sin (a rotation's inverse): what the fused kernels
    /// read (training's <see cref="Kernels.FusedRotary"/>). Made at the first call on a device and owned by this module,
    /// since a backward pass reads them after the forward that used them has returned.
    /// </summary>
    public (Tensor Cos, Tensor Sin, Tensor NegatedSin) Bfloat16Tables()
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = Tables(0, LifeGptShape.Context);
        if (_cos16 is null || _cos16.device_type != cos.device_type || _cos16.device_index != cos.device_index)
        {
            _cos16?.Dispose();
            _sin16?.Dispose();
            _negatedSin16?.Dispose();
            _cos16 = cos.to(ScalarType.BFloat16).DetachFromDisposeScope();
            _sin16 = sin.to(ScalarType.BFloat16).DetachFromDisposeScope();
            _negatedSin16 = _sin16.neg().DetachFromDisposeScope();
        }
        return (_cos16, _sin16!, _negatedSin16!);
    }

    /// <summary>
    /// Computes the float32 cos/sin tables on a device from the float32 inv_freq. Called before the weights are cast
    /// to 16 bits, so the angles keep the reference's float32 precision (the tables are not buffers: casts skip them).
    /// </summary>
    public void PrecomputeTables(Device device)
    {
        using var scope = NewDisposeScope();
        var invFreq = InvFreq.to(ScalarType.Float32, device);
        using var positions = LifeGptShape.Context.ToScalar();
        var angles = outer(arange(Scalars.Zero, positions, Scalars.One, ScalarType.Float32, device), invFreq);
        var both = cat([angles, angles], -1);                      // angle(p, j) for channel j and j+16 alike
        _cos?.Dispose();
        _sin?.Dispose();
        _cos = both.cos().DetachFromDisposeScope();                // owned by this module, freed in Dispose
        _sin = both.sin().DetachFromDisposeScope();
    }

    /// <summary>Rotates the first 32 channels of x [B, H, L, 64]; the other 32 pass through.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        var rot = x.narrow(-1, 0, LifeGptShape.RotaryDim);
        var pass = x.narrow(-1, LifeGptShape.RotaryDim, LifeGptShape.HeadDim - LifeGptShape.RotaryDim);
        var rotatedHalf = RotateHalf(rot);
        var c = cos.to(x.dtype);
        var s = sin.to(x.dtype);
        return cat([(rot * c).add_(rotatedHalf * s, Scalars.One), pass], -1);
    }

    /// <summary>
    /// Training's form of <see cref="Apply"/>, for heads x [B, L, N, 64] and the rotate-half of their rotary channels
    /// [B, L, N, 32] (projected with <see cref="RotateHalfRows"/>), with tables from <see cref="PassThroughTables"/>: each head
    /// is two halves [2, 32], multiplied by (cos, 1) and added to rotate_half times (sin, 0), so channels 32..63 pass
    /// through unchanged. Two kernels, out of place, no slice or concatenation for autograd to undo.
    /// </summary>
    public static Tensor ApplyWithRotatedHalves(Tensor x, Tensor rotatedHalves, Tensor cos, Tensor sin)
    {
        long b = x.shape[0], l = x.shape[1], n = x.shape[2];
        var halves = x.view(b, l, n, 2, LifeGptShape.RotaryDim);
        return halves.mul(cos.to(x.dtype)).addcmul_(rotatedHalves.unsqueeze(3), sin.to(x.dtype), Scalars.One).view(b, l, n, LifeGptShape.HeadDim);
    }

    /// <summary>
    /// cos and sin [L, 1, 2, 32] for positions 0..L-1 and <see cref="ApplyWithRotatedHalves"/>: the rotary channels' angles,
    /// then 1 and 0 for the channels that pass through.
    /// </summary>
    public (Tensor Cos, Tensor Sin) PassThroughTables(int length)
    {
        var (cos, sin) = Tables(0, length);
        return (stack([cos, ones_like(cos)], 1).unsqueeze(1), stack([sin, zeros_like(sin)], 1).unsqueeze(1));
    }

    /// <summary>(-x2, x1) of rotary channels x [..., 32] (x1 = channels 0..15, x2 = 16..31).</summary>
    public static Tensor RotateHalf(Tensor x) => cat([-x.narrow(-1, Half, Half), x.narrow(-1, 0, Half)], -1);

    /// <summary>
    /// <see cref="Apply"/> in place on the rotary channels x [..., 32], given their <see cref="RotateHalf"/> (which
    /// decoding projects with <see cref="RotateHalfRows"/>): x cos + rotate_half(x) sin as two in-place kernels.
    /// </summary>
    public static Tensor ApplyInPlace(Tensor x, Tensor rotatedHalf, Tensor cos, Tensor sin) =>
        x.mul_(cos).addcmul_(rotatedHalf, sin, Scalars.One);

    /// <summary>
    /// The weight rows [8 heads x 32, 256] that project each head's <see cref="RotateHalf"/> of its rotary channels, from
    /// a q or k projection's weight [8 heads x 64, 256]: the rows of the rotary channels, rotated as channels are. A
    /// signed permutation of rows, so exact in any precision.
    /// </summary>
    public static Tensor RotateHalfRows(Tensor weight)
    {
        var rows = weight.view(LifeGptShape.Heads, LifeGptShape.HeadDim, LifeGptShape.Dim).narrow(1, 0, LifeGptShape.RotaryDim);
        return RotateHalf(rows.transpose(1, 2)).transpose(1, 2).reshape(-1, LifeGptShape.Dim);   // channels last, rotated, back
    }

    /// <summary>
    /// Each position's rotation as a matrix acting on row vectors, float32 [2071, 64, 64]: row i of position p's is
    /// <see cref="Apply"/> of the i-th unit vector at p, so x R[p] = Apply(x) at p (the rotation is linear).
    /// </summary>
    public Tensor Matrices()
    {
        var (cos, sin) = Tables(0, LifeGptShape.Context);
        var unitVectors = eye(LifeGptShape.HeadDim, LifeGptShape.HeadDim, ScalarType.Float32, cos.device).expand(LifeGptShape.Context, -1, -1);
        return Apply(unitVectors, cos.unsqueeze(1), sin.unsqueeze(1));
    }

    protected override void Dispose(bool disposing)
    {
        _cos?.Dispose();
        _sin?.Dispose();
        _cos16?.Dispose();
        _sin16?.Dispose();
        _negatedSin16?.Dispose();
        base.Dispose(disposing);
    }
}
