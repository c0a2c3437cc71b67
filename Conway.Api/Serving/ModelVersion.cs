using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>A model's version as the API shows it (<c>X-Model-Version</c>, readiness): the first 12 hex digits of its sha256.</summary>
public static class ModelVersion
{
    public const int Length = 12;

    public static string Of(ModelInfo model) => model.Sha256[..Math.Min(Length, model.Sha256.Length)];

    /// <summary>The <c>X-Model-Version</c> header: which model answered, and which weights: <c>name@version</c>.</summary>
    public static string Header(string name, ModelInfo model) => $"{name}@{Of(model)}";
}
