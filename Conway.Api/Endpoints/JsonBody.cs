using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Conway.Api.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Conway.Api.Endpoints;

/// <summary>
/// Reads a request body as JSON without model binding, so that every failure is a problem detail the client can
/// act on (and nothing is logged as an error): 415 unless the body is JSON, 413 past the size limit (checked on
/// the bytes read too, not only on Content-Length), 400 for malformed or mistyped JSON naming the field and place
/// (<see cref="JsonErrors"/>) and for a body the framework's validation refuses (<see cref="RequestValidation"/>),
/// never repeating what was sent.
/// </summary>
internal static class JsonBody
{
    /// <summary>The body; or its problem, or the deadline's (504) or the client's (499) if either went before it arrived.</summary>
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(
        HttpRequest request, int maxBytes, JsonSerializerOptions json, RequestDeadline deadline) where T : class
    {
        try
        {
            return await ReadAsync<T>(request, maxBytes, json, deadline.Token);
        }
        catch (OperationCanceledException)
        {
            return (null, deadline.Passed ? ServingProblems.DeadlinePassed(deadline.Deadline) : ServingProblems.ClientClosed());
        }
    }

    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(
        HttpRequest request, int maxBytes, JsonSerializerOptions json, CancellationToken cancellation) where T : class
    {
        if (!request.HasJsonContentType()) return (null, NotJson(request.ContentType));
        if (request.ContentLength > maxBytes) return (null, TooLarge(maxBytes));

        PipeReader reader = request.BodyReader;
        ReadResult read;
        try
        {
            while (!(read = await reader.ReadAsync(cancellation)).IsCompleted && read.Buffer.Length <= maxBytes)
                reader.AdvanceTo(read.Buffer.Start, read.Buffer.End);
        }
        catch (BadHttpRequestException e)
        {
            return (null, Unreadable(e, maxBytes));
        }

        try
        {
            if (read.Buffer.Length > maxBytes) return (null, TooLarge(maxBytes));
            var (value, problem) = Deserialize<T>(read.Buffer, json);
            if (problem is not null) return (null, problem);
            var errors = await RequestValidation.ErrorsAsync(value!, request.HttpContext);
            return errors.Count == 0 ? (value, null) : (null, Problems.Validation(errors));
        }
        finally
        {
            reader.AdvanceTo(read.Buffer.End);
        }
    }

    private static (T? Value, ProblemHttpResult? Problem) Deserialize<T>(ReadOnlySequence<byte> body, JsonSerializerOptions json) where T : class
    {
        var contract = (JsonTypeInfo<T>)json.GetTypeInfo(typeof(T));
        ReadOnlySpan<byte> utf8 = body.IsSingleSegment ? body.FirstSpan : body.ToArray();
        if (utf8.Trim(" \t\r\n"u8).IsEmpty) return (null, Problems.Validation(new() { ["$"] = [JsonErrors.NoJson] }));
        try
        {
            return JsonSerializer.Deserialize(utf8, contract) is { } value
                ? (value, null)
                : (null, Problems.Validation(new() { ["$"] = ["The body is JSON null; send a JSON object."] }));
        }
        catch (JsonException e)
        {
            var (field, message) = JsonErrors.Describe(e, contract, utf8);
            return (null, Problems.Validation(new() { [field] = [message] }));
        }
    }

    /// <summary>415: the body was sent as <paramref name="contentType"/>, not as JSON.</summary>
    public static ProblemHttpResult NotJson(string? contentType) =>
        Problems.Status(StatusCodes.Status415UnsupportedMediaType, Problems.UnsupportedMediaType(contentType));

    /// <summary>413: the body is larger than <paramref name="maxBytes"/>.</summary>
    public static ProblemHttpResult TooLarge(int maxBytes) =>
        Problems.Status(StatusCodes.Status413PayloadTooLarge, $"The body is larger than the limit of {maxBytes} bytes.");

    /// <summary>Kestrel could not read the body: said in fixed words by status (its messages may quote what it read).</summary>
    private static ProblemHttpResult Unreadable(BadHttpRequestException e, int maxBytes) => e.StatusCode switch
    {
        StatusCodes.Status413PayloadTooLarge => TooLarge(maxBytes),
        StatusCodes.Status408RequestTimeout => Problems.Status(e.StatusCode, "The body arrived too slowly."),
        _ => Problems.Status(e.StatusCode, "The body could not be read: it ended early, or its framing (Content-Length or chunked encoding) is malformed."),
    };
}
