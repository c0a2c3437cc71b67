using System.Buffers;
using System.IO.Pipelines;
using System.Text.Json;
using System.Text.RegularExpressions;
using Conway.Decoding;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Conway.Api.Endpoints;

/// <summary>
/// Reads a request body as JSON without model binding, so that every failure is a problem detail the client can
/// act on (and nothing is logged as an error): 415 unless the body is JSON, 413 past the size limit (checked on
/// the bytes read too, not only on Content-Length), 400 for malformed or mistyped JSON naming the field.
/// </summary>
internal static class JsonBody
{
    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(
        HttpRequest request, int maxBytes, JsonSerializerOptions json, CancellationToken cancellation) where T : class
    {
        if (!request.HasJsonContentType())
            return (null, Problems.Status(StatusCodes.Status415UnsupportedMediaType, Problems.UnsupportedMediaType(request.ContentType)));
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
            return (null, Problems.Status(e.StatusCode, e.Message));
        }

        try
        {
            return read.Buffer.Length > maxBytes ? (null, TooLarge(maxBytes)) : Deserialize<T>(read.Buffer, json);
        }
        finally
        {
            reader.AdvanceTo(read.Buffer.End);
        }
    }

    private static (T? Value, ProblemHttpResult? Problem) Deserialize<T>(ReadOnlySequence<byte> body, JsonSerializerOptions json) where T : class
    {
        try
        {
            ReadOnlySpan<byte> utf8 = body.IsSingleSegment ? body.FirstSpan : body.ToArray();
            return JsonSerializer.Deserialize<T>(utf8, json) is { } value
                ? (value, null)
                : (null, Problems.Validation(new() { ["$"] = ["The body is JSON null; send a JSON object."] }));
        }
        catch (JsonException e)
        {
            return (null, Problems.Validation(new() { [Field(e.Path)] = [Describe(e)] }));
        }
    }

    private static ProblemHttpResult TooLarge(int maxBytes) =>
        Problems.Status(StatusCodes.Status413PayloadTooLarge, $"The body is larger than the limit of {maxBytes} bytes.");

    /// <summary>"$.boards[2]" -> "boards[2]"; the document itself is "$".</summary>
    private static string Field(string? path) => path is ['$', '.', .. var rest] ? rest : "$";

    /// <summary>
    /// What the serializer found wrong, in JSON terms rather than .NET type names, with its location for people
    /// (1-based line and byte).
    /// </summary>
    private static string Describe(JsonException e)
    {
        string what = e.InnerException is InvalidOperationException or FormatException ? e.InnerException.Message : Readable(e.Message);
        return e.LineNumber is { } line ? $"{what} (line {line + 1}, byte {e.BytePositionInLine + 1})" : what;
    }

    private static string Readable(string message)
    {
        int cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        message = cut < 0 ? message : message[..cut];
        if (Regex.Match(message, @"^The JSON value could not be converted to (\S+)\.$") is { Success: true } converted)
            return $"Expected {JsonKind(converted.Groups[1].Value)}.";
        if (Regex.Match(message, @"^The JSON property '(.*)' could not be mapped") is { Success: true } unknown)
            return $"Unknown property '{unknown.Groups[1].Value}'; property names are camelCase and case-sensitive.";
        return Regex.Replace(message, @" (during deserialization )?of type '[^']*'", "");
    }

    private static string JsonKind(string type) => type switch
    {
        _ when type.Contains("List") => "an array",
        _ when type.Contains(nameof(DecodeStrategy)) =>
            string.Join(" or ", Enum.GetNames<DecodeStrategy>().Select(name => $"\"{JsonNamingPolicy.CamelCase.ConvertName(name)}\"")),
        _ when type.Contains("Int") => "an integer",
        _ when type.Contains("Single") => "a number",
        _ when type.Contains("Boolean") => "true or false",
        _ when type.Contains("String") => "a string",
        _ => "an object",
    };
}
