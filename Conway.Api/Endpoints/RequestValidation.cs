using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Validation;
using JsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace Conway.Api.Endpoints;

/// <summary>
/// The framework's validation (<c>AddValidation</c>: data annotations and <see cref="IValidatableObject"/> on the
/// request contracts, marked <see cref="ValidatableTypeAttribute"/>) run on a body that <see cref="JsonBody"/> read.
/// </summary>
internal static class RequestValidation
{
    /// <summary>Each invalid field (camelCase JSON name, or "$" for the request as a whole) and what is wrong with it; empty when valid.</summary>
    public static async Task<Dictionary<string, string[]>> ErrorsAsync<T>(T request, HttpContext http) where T : class
    {
        var options = http.RequestServices.GetRequiredService<IOptions<ValidationOptions>>().Value;
        if (!options.TryGetValidatableTypeInfo(typeof(T), out var info))
            throw new InvalidOperationException($"{typeof(T).Name} is not validatable: mark it [ValidatableType].");
        var context = new ValidateContext
        {
            ValidationOptions = options,
            ValidationContext = new ValidationContext(request, http.RequestServices, items: null),
        };
        await info.ValidateAsync(request, context, http.RequestAborted);
        var naming = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions.PropertyNamingPolicy;
        return context.ValidationErrors is { } errors ? errors.ToDictionary(error => JsonName(error.Key, naming), error => error.Value) : [];
    }

    /// <summary>The validator's path of C# names ("TopK") as the body's JSON names ("topK").</summary>
    private static string JsonName(string path, JsonNamingPolicy? naming) =>
        naming is null ? path : string.Join('.', path.Split('.').Select(naming.ConvertName));
}
