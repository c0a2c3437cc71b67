using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace Conway.Api.Endpoints;

/// <summary>
/// What is wrong with a request body that System.Text.Json could not read, told from where it failed (its JSON path,
/// line and byte) and from the contract, never from the serializer's message: those quote the input and name .NET
/// types. Malformed JSON is said to be so, at its place; JSON that does not fit the contract is described by what the
/// contract expects there (its JSON kind) and what the body holds there.
/// </summary>
internal static partial class JsonErrors
{
    public const string NoJson = "The body holds no JSON; send a JSON object.";

    /// <summary>The <c>errors</c> key ("boards[2]"; "$" for the document itself) and what is wrong there.</summary>
    public static (string Field, string Message) Describe(JsonException error, JsonTypeInfo contract, ReadOnlySpan<byte> body)
    {
        string at = error.LineNumber is { } line
            ? string.Create(CultureInfo.InvariantCulture, $" (line {line + 1}, byte {error.BytePositionInLine + 1})")
            : "";
        var segments = Segments(error.Path);
        var (known, type) = Walk(contract, segments);
        string field = Field(segments, known);
        if (error.InnerException is JsonException || !TryParse(body, out var document, out bool duplicate))
            return (field, "Not valid JSON." + at);
        using (document)
        {
            if (duplicate) return (field, "Given more than once; give each property once." + at);
            if (known < segments.Count)
                return (field, $"Unknown property; the properties here are {string.Join(", ", type.Properties.Select(property => $"'{property.Name}'"))} (camelCase, case-sensitive)." + at);
            var value = Find(document!.RootElement, segments);
            if (value?.ValueKind == JsonValueKind.String && type.Type == typeof(string)) return (field, "The string is not valid UTF-8." + at);
            string got = value is { } sent && !Fits(sent.ValueKind, type.Type) && Kind(sent.ValueKind) is { } kind ? $"; got {kind}" : "";
            return (field, $"Expected {Expected(type.Type)}{got}.{at}");
        }
    }

    /// <summary>The body as a document, and whether it gives a property twice; false when it is not JSON at all.</summary>
    private static bool TryParse(ReadOnlySpan<byte> body, out JsonDocument? document, out bool duplicate)
    {
        duplicate = false;
        document = null;
        var reader = new Utf8JsonReader(body);
        try
        {
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException)
        {
            return false;
        }
        // JSON that parses, but not when duplicates are refused, gives a property twice
        try
        {
            using var _ = JsonDocument.Parse(body.ToArray(), new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException)
        {
            duplicate = true;
        }
        return true;
    }

    /// <summary>How far along <paramref name="segments"/> the contract goes (names it has, indexes into arrays), and its type there.</summary>
    private static (int Known, JsonTypeInfo Type) Walk(JsonTypeInfo contract, IReadOnlyList<string> segments)
    {
        var type = contract;
        for (int i = 0; i < segments.Count; i++)
        {
            JsonTypeInfo? next = segments[i].StartsWith('[')
                ? type.ElementType is { } element ? type.Options.GetTypeInfo(element) : null
                : type.Properties.FirstOrDefault(property => property.Name == segments[i]) is { } property ? type.Options.GetTypeInfo(property.PropertyType) : null;
            if (next is null) return (i, type);
            type = next;
        }
        return (segments.Count, type);
    }

    /// <summary>The value of <paramref name="root"/> at <paramref name="segments"/>, if it is there.</summary>
    private static JsonElement? Find(JsonElement root, IReadOnlyList<string> segments)
    {
        var value = root;
        foreach (string segment in segments)
        {
            if (segment.StartsWith('[') && value.ValueKind == JsonValueKind.Array && int.Parse(segment[1..^1], CultureInfo.InvariantCulture) is var index && index < value.GetArrayLength())
                value = value[index];
            else if (!segment.StartsWith('[') && value.ValueKind == JsonValueKind.Object && value.TryGetProperty(segment, out var property))
                value = property;
            else
                return null;
        }
        return value;
    }

    /// <summary>The errors key of the first <paramref name="known"/> segments: "boards[2]"; "$" when none (an unknown name is the client's text).</summary>
    private static string Field(IReadOnlyList<string> segments, int known) =>
        known == 0 ? "$" : string.Concat(segments.Take(known).Select((segment, i) => i == 0 || segment.StartsWith('[') ? segment : "." + segment));

    /// <summary>
    /// "$.boards[2].x" -> ["boards", "[2]", "x"]; a name written ['...'] (never one of ours) ends the list as
    /// <see cref="Unreadable"/>, a name no contract has.
    /// </summary>
    private static List<string> Segments(string? path)
    {
        var segments = new List<string>();
        if (path is null || !path.StartsWith('$')) return segments;
        int end = 1;
        for (var segment = PathSegment().Match(path, 1); segment.Success; segment = segment.NextMatch())
        {
            segments.Add(segment.Groups["name"] is { Success: true } name ? name.Value : segment.Value);
            end = segment.Index + segment.Length;
        }
        if (end < path.Length) segments.Add(Unreadable);
        return segments;
    }

    private const string Unreadable = "['']";

    /// <summary>The JSON a value of <paramref name="type"/> is written as.</summary>
    internal static string Expected(Type type) => Nullable.GetUnderlyingType(type) is { } underlying ? Expected(underlying) : type switch
    {
        { IsEnum: true } => string.Join(" or ", Enum.GetNames(type).Select(name => $"\"{JsonNamingPolicy.CamelCase.ConvertName(name)}\"")),
        _ when type == typeof(int) => WholeNumber(int.MinValue, int.MaxValue),
        _ when type == typeof(long) => WholeNumber(long.MinValue, long.MaxValue),
        _ when type == typeof(float) || type == typeof(double) => "a number",
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(string) => "a string",
        _ when type.IsAssignableTo(typeof(System.Collections.IEnumerable)) => "an array",
        _ => "an object",
    };

    /// <summary>Whether a JSON value of <paramref name="kind"/> is what <paramref name="type"/> is written as (if not the right one of them).</summary>
    private static bool Fits(JsonValueKind kind, Type type) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        { IsEnum: true } => kind == JsonValueKind.String,
        var t when t == typeof(int) || t == typeof(long) || t == typeof(float) || t == typeof(double) => kind == JsonValueKind.Number,
        var t when t == typeof(bool) => kind is JsonValueKind.True or JsonValueKind.False,
        var t when t == typeof(string) => kind == JsonValueKind.String,
        var t when t.IsAssignableTo(typeof(System.Collections.IEnumerable)) => kind == JsonValueKind.Array,
        _ => kind == JsonValueKind.Object,
    };

    private static string WholeNumber(long min, long max) => string.Create(CultureInfo.InvariantCulture, $"a whole number from {min} to {max}");

    /// <summary>What a JSON value is, in the words of <see cref="Expected"/>.</summary>
    private static string? Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Number => "a number",
        JsonValueKind.String => "a string",
        JsonValueKind.True or JsonValueKind.False => "true or false",
        JsonValueKind.Null => "null",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => null,
    };

    /// <summary>One segment of a System.Text.Json path: ".name" or "[index]" (names with other characters are written ['...']: never ours).</summary>
    [GeneratedRegex(@"\G(?:\.(?<name>[A-Za-z][A-Za-z0-9]*)(?=[.\[]|$)|\[\d+\])")]
    private static partial Regex PathSegment();
}
