namespace Conway.Api.Observability;

/// <summary>
/// Bounds the request metrics' <c>method</c> label: any token is a valid HTTP method and each one becomes a label value
/// for good, so methods other than GET, HEAD, POST, PUT, DELETE, OPTIONS and PATCH are renamed <see cref="Other"/>
/// before the metrics see them (and those seven are spelt in capitals). No endpoint serves another method, so the
/// answer (404 or 405) is the same.
/// </summary>
public static class MethodLabels
{
    public const string Other = "OTHER";

    private static readonly string[] Known =
        [HttpMethods.Get, HttpMethods.Head, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete, HttpMethods.Options, HttpMethods.Patch];

    /// <summary>The method as the metrics label it: one of the seven, or <see cref="Other"/>.</summary>
    public static string Of(string method) =>
        Array.Find(Known, known => string.Equals(known, method, StringComparison.OrdinalIgnoreCase)) ?? Other;

    public static IApplicationBuilder UseKnownMethodsOnly(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Request.Method = Of(context.Request.Method);
        return next(context);
    });
}
