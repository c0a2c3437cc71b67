using System.Text.RegularExpressions;

namespace Conway.Api.Observability;

/// <summary>
/// Every request has an id: the client's <c>X-Request-Id</c> when it is a sane token (1 to 64 letters, digits and
/// <c>._:-</c>), else ASP.NET's TraceIdentifier. It becomes the TraceIdentifier, is echoed in the response's
/// <c>X-Request-Id</c>, is in the log scope of everything logged for the request, and in every problem detail.
/// </summary>
public static partial class RequestIds
{
    public const string Header = "X-Request-Id";

    public static IApplicationBuilder UseRequestIds(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(RequestIds).FullName!);
        return app.Use(async (context, next) =>
        {
            if (context.Request.Headers[Header] is [{ } id] && SaneId().IsMatch(id)) context.TraceIdentifier = id;
            context.Response.Headers[Header] = context.TraceIdentifier;
            using (logger.BeginScope(new Dictionary<string, object> { ["RequestId"] = context.TraceIdentifier }))
                await next(context);
        });
    }

    [GeneratedRegex("^[A-Za-z0-9._:-]{1,64}$")]
    private static partial Regex SaneId();
}
