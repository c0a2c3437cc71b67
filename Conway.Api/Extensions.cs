using System.Text.Json;
using System.Text.Json.Serialization;
using Conway.Api.Endpoints;
using Conway.Api.Http;
using Conway.Api.Observability;
using Conway.Api.Security;
using Conway.Api.Serving;
using Microsoft.Extensions.Options;

namespace Conway.Api;

public static class Extensions
{
    public static void AddApplicationServices(this WebApplicationBuilder builder)
    {
        builder.Services.AddProblemDetails(options => options.CustomizeProblemDetails = DescribeStatusCodePage);
        builder.Services.ConfigureHttpJsonOptions(options => UseStrictJson(options.SerializerOptions));
        builder.Services.AddValidation();
        builder.Services.AddOptions<ApiOptions>().BindConfiguration(ApiOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.AddApiSecurity();
        builder.Services.AddServingMetrics();
        builder.Services.AddModelServing();
    }

    /// <summary>Security headers, request ids, problem details for errors and status codes, request metrics, API keys and rate limits.</summary>
    public static void UseApplicationMiddleware(this WebApplication app)
    {
        app.UseSecurityHeaders();
        app.UseRequestIds();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseRequestMetrics();
        app.UseApiSecurity();
    }

    /// <summary>The OpenAPI document at /openapi/v1.json (<see cref="OpenApiContract"/>), and Swagger UI over it at /swagger.</summary>
    public static void AddDefaultOpenApi(this IHostApplicationBuilder builder) =>
        builder.Services.AddOpenApi(OpenApiContract.Apply);

    /// <summary>With <see cref="AuthOptions.ProtectDocs"/>, both are behind the API key.</summary>
    public static void UseDefaultOpenApi(this WebApplication app)
    {
        app.MapOpenApi().RequireApiKey(app, app.Services.GetRequiredService<IOptions<AuthOptions>>().Value.ProtectDocs);
        app.UseSwaggerUI(options => options.SwaggerEndpoint("/openapi/v1.json", "Conway LifeGPT API v1"));
    }

    /// <summary>
    /// Strict request JSON: camelCase names matched case-sensitively, unknown or duplicate properties rejected,
    /// no numbers in strings, nullability honoured, enums as lowercase names only (no integers).
    /// </summary>
    private static void UseStrictJson(JsonSerializerOptions json)
    {
        json.PropertyNameCaseInsensitive = false;
        json.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        json.AllowDuplicateProperties = false;
        json.NumberHandling = JsonNumberHandling.Strict;
        json.RespectNullableAnnotations = true;
        json.RespectRequiredConstructorParameters = true;
        json.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
    }

    /// <summary>
    /// Every problem detail carries the request's id; those that status-code pages (and routing, for 415) write say
    /// what was asked for (the method and path cut to <see cref="Problems.Excerpt"/>).
    /// </summary>
    private static void DescribeStatusCodePage(ProblemDetailsContext context)
    {
        var request = context.HttpContext.Request;
        context.ProblemDetails.Extensions["requestId"] = context.HttpContext.TraceIdentifier;
        context.ProblemDetails.Detail ??= context.ProblemDetails.Status switch
        {
            StatusCodes.Status404NotFound => $"Nothing is served at {Problems.Excerpt(request.Method)} {Problems.Excerpt(request.Path.Value ?? "")}.",
            StatusCodes.Status405MethodNotAllowed => $"{Problems.Excerpt(request.Method)} is not allowed on {Problems.Excerpt(request.Path.Value ?? "")}.",
            StatusCodes.Status415UnsupportedMediaType => Problems.UnsupportedMediaType(request.ContentType),
            _ => null,
        };
    }
}
