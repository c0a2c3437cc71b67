using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;

namespace Conway.Api.Http;

/// <summary>
/// RFC 9457 problem details, shared by the endpoints, the API key handler and the status-code pages: the client's
/// mistakes, and the statuses that the endpoints' answers for work the model did not do (<c>ServingProblems</c>) use.
/// </summary>
internal static class Problems
{
    public static ProblemHttpResult Status(int status, string detail) =>
        TypedResults.Problem(detail, statusCode: status, title: ReasonPhrases.GetReasonPhrase(status));

    /// <summary>
    /// The problem with the request's ids (<c>requestId</c>, <c>traceId</c>) set here, as the problem details service sets
    /// them on the problems it writes: for a problem it does not write (one whose request accepts no JSON, or a line of a stream).
    /// </summary>
    public static ProblemHttpResult WithIds(ProblemHttpResult problem, HttpContext http)
    {
        problem.ProblemDetails.Extensions["requestId"] = http.TraceIdentifier;
        problem.ProblemDetails.Extensions["traceId"] = System.Diagnostics.Activity.Current?.Id ?? http.TraceIdentifier;
        return problem;
    }

    /// <summary>Sets <c>Retry-After</c> in whole seconds, at least 1.</summary>
    public static void SetRetryAfter(HttpResponse response, TimeSpan after) =>
        response.Headers.RetryAfter = Math.Max(1, Math.Ceiling(after.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string UnsupportedMediaType(string? contentType) =>
        $"Send the body as JSON (Content-Type: application/json); got {(contentType is null ? "no Content-Type" : $"'{Excerpt(contentType)}'")}.";

    /// <summary>The most of a header's or the URL's text that a problem repeats: the first <c>40</c> characters.</summary>
    public const int MaxExcerpt = 40;

    /// <summary>
    /// A header's or the URL's text as a problem may repeat it: at most <see cref="MaxExcerpt"/> characters, each
    /// printable ASCII ('?' for any other), "..." when cut. Body text is never repeated at all.
    /// </summary>
    public static string Excerpt(string text) =>
        string.Create(Math.Min(text.Length, MaxExcerpt) + (text.Length > MaxExcerpt ? 3 : 0), text, static (chars, source) =>
        {
            for (int i = 0; i < chars.Length; i++)
                chars[i] = i >= MaxExcerpt ? '.' : source[i] is >= ' ' and <= '~' ? source[i] : '?';
        });

    /// <summary>400 with an <c>errors</c> entry per field; <c>detail</c> repeats the first one.</summary>
    public static ProblemHttpResult Validation(Dictionary<string, string[]> errors)
    {
        var (field, messages) = errors.First();
        string more = errors.Count > 1 ? $" ({errors.Count - 1} more in 'errors')" : "";
        return TypedResults.Problem(new HttpValidationProblemDetails(errors)
        {
            Status = StatusCodes.Status400BadRequest,
            Detail = $"{field}: {messages[0]}{more}",
        });
    }
}
