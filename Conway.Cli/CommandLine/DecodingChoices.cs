using System.CommandLine;
using Conway.Decoding;
using Conway.Kernels;
using TorchSharp;

namespace Conway.Cli.CommandLine;

/// <summary>The decoding options eval and bench share: --model, --precision, --kernels and the strategy names.</summary>
public static class DecodingChoices
{
    public const string DefaultModel = "models/lifegpt.safetensors";

    /// <summary>The strategy names, as the service's API spells them.</summary>
    public static readonly string[] Strategies = ["speculative", "autoregressive"];

    public static DecodeStrategy Strategy(string name) => name == "autoregressive" ? DecodeStrategy.Autoregressive : DecodeStrategy.Speculative;

    public static Option<string> Precision() =>
        CliOptions.Choice("--precision", "auto", "compute precision: auto (bf16 on CUDA, fp32 on the CPU), bf16 or fp32", [.. LifeGptPredictor.Precisions]);

    public static Option<string> Kernels() =>
        CliOptions.Choice("--kernels", "auto", "kernels: auto (the fused CUDA kernels where they can run, libtorch's elsewhere), fused or libtorch", [.. KernelChoice.Modes]);

    /// <summary>The model file (relative paths looked up from the current folder upwards); a usage error if absent.</summary>
    public static string RequireModel(string path) =>
        FileSearch.Require(path, "--model", $"train one (conway train --export {DefaultModel}) or pass --model <path>");
}
