using System.ComponentModel.DataAnnotations;

namespace Conway.Api.Serving;

/// <summary>Where the model comes from and how requests are batched onto it. Bound from the "Model" section.</summary>
public sealed class ModelOptions
{
    public const string Section = "Model";

    /// <summary>The model shipped with the service (models/lifegpt.safetensors, copied next to the binaries).</summary>
    public static string ShippedModel { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "models", "lifegpt.safetensors");

    /// <summary>The checkpoint to load (env <c>Model__Path</c>): safetensors or a PyTorch state_dict. Default: the shipped model.</summary>
    [Required]
    public string Path { get; set; } = ShippedModel;

    /// <summary>auto (CUDA when present, else CPU), cpu or cuda.</summary>
    [AllowedValues("auto", "cpu", "cuda")]
    public string Device { get; set; } = "auto";

    /// <summary>The worker stops gathering a batch once it holds this many boards.</summary>
    [Range(1, 65536)]
    public int MaxBatchBoards { get; set; } = 64;

    /// <summary>How long the worker waits for more requests after the first one of a batch.</summary>
    [Range(0, 10_000)]
    public int MaxWaitMs { get; set; } = 2;

    /// <summary>Requests (work items) that may wait for the model; past this the API answers 429.</summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Most boards in one <c>/predict/batch</c> request.</summary>
    [Range(1, 65536)]
    public int MaxBoardsPerRequest { get; set; } = 256;
}
