using System.Globalization;
using Conway.Api.Http;

namespace Conway.Api.Endpoints;

/// <summary>A request's deadline: from <c>X-Deadline-Ms</c>, the body's <c>deadlineMs</c>, and Model:MaxDeadlineMs.</summary>
internal static class Deadlines
{
    public const string Header = "X-Deadline-Ms";

    /// <summary>The header's milliseconds, if sent; a value that is not one positive integer is an entry in <paramref name="errors"/>.</summary>
    public static int? FromHeader(HttpRequest request, Dictionary<string, string[]> errors)
    {
        if (!request.Headers.TryGetValue(Header, out var values)) return null;
        if (values is [{ } text] && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int ms) && ms >= 1) return ms;
        errors[Header] = [$"Must be one whole number of milliseconds, at least 1; got '{Problems.Excerpt(values.ToString())}'."];
        return null;
    }

    /// <summary>The earliest deadline asked for, capped at <paramref name="maxMs"/>, which is also the deadline when none was asked for.</summary>
    public static TimeSpan Resolve(int? headerMs, int? bodyMs, int maxMs) =>
        TimeSpan.FromMilliseconds(Math.Min(maxMs, Math.Min(headerMs ?? maxMs, bodyMs ?? maxMs)));

    /// <summary>
    /// The time left before <paramref name="deadline"/> once <paramref name="elapsed"/> has passed since the request
    /// arrived: never negative (zero means it has passed), so it can never read as "no timeout" (-1 ms) or be invalid.
    /// </summary>
    public static TimeSpan TimeLeft(TimeSpan deadline, TimeSpan elapsed) => deadline > elapsed ? deadline - elapsed : TimeSpan.Zero;
}
