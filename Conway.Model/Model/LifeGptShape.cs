using Conway.Codec;

namespace Conway.Model;

/// <summary>The model's fixed hyper-parameters (spec: "Architecture").</summary>
public static class LifeGptShape
{
    public const int Vocab = 256, Dim = 256, Heads = 8, HeadDim = 64, FfDim = 1024;
    public const int Blocks = 24;            // alternating attention (even) and feed-forward (odd)
    public const int RotaryDim = 32;         // rotary on the first 32 of each head's 64 channels
    public const int Context = LifeGptCodec.SequenceLength;   // one full training sequence: 2071
    public const double NormEps = 1e-5;
}
