using static TorchSharp.torch;

namespace Conway.Model;

/// <summary>
/// One attention block's keys and values of the positions decoded so far: a decoding pass or step writes its own into
/// it and attends over it (Conway.Decoding's KvCache holds one per block). Training attends without one.
/// </summary>
public interface IAttentionCache
{
    /// <summary>Stores k, v [B, L, H, 64] at positions start..start+L-1.</summary>
    void Write(int start, Tensor k, Tensor v);

    /// <summary>Stores one position's keys and values, kv [B, 2, H, 64] (K then V), with one copy.</summary>
    void WriteStep(int position, Tensor kv);

    /// <summary>Views of the keys and values at positions 0..end-1, each [B, H, end, 64].</summary>
    (Tensor Keys, Tensor Values) Upto(int end);

    /// <summary>
    /// Views of the keys, transposed, and of the values at positions 0..end-1: per head, [B*H, 64, end] and
    /// [B*H, end, 64]; otherwise per sequence, [B, 512, end] and [B, end, 512].
    /// </summary>
    (Tensor KeysT, Tensor Values) Matrices(int end, bool perHead);

    /// <summary>The whole cache, position-major [2, T, B, H, 64] (K then V), for kernels that index it themselves.</summary>
    Tensor PositionMajor { get; }
}
