using System.ComponentModel.DataAnnotations;

namespace Conway.Api.Endpoints;

/// <summary>Limits of the HTTP API. Bound from the "Api" section.</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>Largest request body the prediction endpoints read (default 1 MiB); larger ones get 413.</summary>
    [Range(1, int.MaxValue)]
    public int MaxRequestBodyBytes { get; set; } = 1 << 20;
}
