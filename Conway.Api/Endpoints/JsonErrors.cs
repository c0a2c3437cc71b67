using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;
using Conway.Decoding;

namespace Conway.Api.Endpoints;

/// <summary>
/// What System.Text.Json found wrong with a request body, and where, without ever repeating the body: its messages
/// quote the input (an invalid literal in full, however long) and name .NET types, so none of their text is passed
/// on. Each failure is recognised by the fixed part of its message (never by the quoted input) and told in JSON
/// terms; the field is the JSON path up to the first name the contract does not have; the place is line and byte.
/// </summary>
internal static partial class JsonErrors
{
    /// <summary>The <c>errors</c> key ("boards[2]"; "$" for the document itself) and what is wrong there.</summary>
    public static (string Field, string Message) Describe(JsonException error, JsonTypeInfo contract)
    {
        var names = contract.Properties.Select(property => property.Name).ToList();
        string what = error.InnerException is JsonException reader ? Syntax(reader.Message) : Content(error, names);
        string at = error.LineNumber is { } line
            ? string.Create(CultureInfo.InvariantCulture, $" (line {line + 1}, byte {error.BytePositionInLine + 1})")
            : "";
        return (Field(error.Path, names), what + at);
    }

    /// <summary>
    /// "$.boards[2]" -> "boards[2]", cut before the first segment that is not one of the contract's names or an
    /// index (an unknown property's name is the client's text); "$" when nothing is left.
    /// </summary>
    internal static string Field(string? path, IReadOnlyList<string> names)
    {
        if (path is null || !path.StartsWith('$')) return "$";
        int end = 1;
        for (var segment = PathSegment().Match(path, 1); segment.Success && segment.Index == end; segment = segment.NextMatch())
        {
            if (segment.Groups["name"] is { Success: true } name && !names.Contains(name.Value)) break;
            end = segment.Index + segment.Length;
        }
        return end == 1 ? "$" : path[1..end].TrimStart('.');
    }

    /// <summary>A failure of the JSON itself (the reader's): the message starts or ends with fixed text around the quoted input.</summary>
    private static string Syntax(string message)
    {
        int location = message.LastIndexOf(" LineNumber: ", StringComparison.Ordinal);
        if (location >= 0) message = message[..location];
        foreach (var (text, atEnd, says) in SyntaxErrors)
            if (atEnd ? message.EndsWith(text, StringComparison.Ordinal) : message.StartsWith(text, StringComparison.Ordinal))
                return says;
        return "Not valid JSON.";
    }

    private const string NotJson = "Not valid JSON: ";

    /// <summary>System.Text.Json's reader messages, by the fixed text that ends (true) or starts (false) them.</summary>
    private static readonly (string Text, bool AtEnd, string Says)[] SyntaxErrors =
    [
        ("' is an invalid JSON literal. Expected the literal 'true'.", true, NotJson + "expected the literal true."),
        ("' is an invalid JSON literal. Expected the literal 'false'.", true, NotJson + "expected the literal false."),
        ("' is an invalid JSON literal. Expected the literal 'null'.", true, NotJson + "expected the literal null."),
        ("' is an invalid start of a value.", true, NotJson + "expected a value (an object, array, string, number, true, false or null)."),
        ("' is invalid after a single JSON value. Expected end of data.", true, NotJson + "more follows the JSON value; send one JSON object."),
        ("' is invalid after a value. Expected either ',', '}', or ']'.", true, NotJson + "expected ',', '}' or ']' after a value."),
        ("' is invalid after a property name. Expected a ':'.", true, NotJson + "expected ':' after a property name."),
        ("' is an invalid start of a property name. Expected a '\"'.", true, NotJson + "expected a property name in double quotes."),
        ("' is invalid without a matching open.", true, NotJson + "a closing bracket or brace has no matching open one."),
        ("' is an invalid escapable character within a JSON string. The string should be correctly escaped.", true, NotJson + "an invalid escape sequence in a string."),
        ("' is not a hex digit following '\\u' within a JSON string. The string should be correctly escaped.", true, NotJson + "\\u must be followed by four hex digits."),
        ("' is invalid within a JSON string. The string should be correctly escaped.", true, NotJson + "a control character in a string must be escaped."),
        ("' is an invalid end of a number. Expected a delimiter.", true, NotJson + "a malformed number."),
        ("' is an invalid end of a number. Expected 'E' or 'e'.", true, NotJson + "a malformed number."),
        ("Expected a digit ('0'-'9').", true, NotJson + "a malformed number."),
        ("Invalid leading zero", false, NotJson + "a malformed number (no leading zeros)."),
        ("Expected a digit", false, NotJson + "the body ends inside a number."),
        ("' is an invalid token type for the end of the JSON payload. Expected either 'EndArray' or 'EndObject'.", true, NotJson + "the body ends inside an open JSON object or array."),
        ("Expected end of string", false, NotJson + "the body ends inside a string."),
        ("Expected depth to be zero", false, NotJson + "the body ends inside an open JSON object or array."),
        ("The input does not contain any", false, "The body holds no JSON; send a JSON object."),
        ("Expected start of a property name or value", false, NotJson + "the body ends where a value was expected."),
        ("Expected a value", false, NotJson + "the body ends where a value was expected."),
        ("There is not enough data", false, NotJson + "the body ends inside an open JSON object or array."),
        ("The JSON array contains a trailing comma", false, NotJson + "a trailing comma."),
        ("The JSON object contains a trailing comma", false, NotJson + "a trailing comma."),
        ("The maximum configured depth", false, "The JSON is nested too deeply."),
    ];

    /// <summary>A failure of what the JSON says (the serializer's): messages that start with fixed text.</summary>
    private static string Content(JsonException error, IReadOnlyList<string> names)
    {
        string message = error.Message;
        if (message.StartsWith(Unmapped, StringComparison.Ordinal))
            return $"Unknown property; the properties here are {string.Join(", ", names.Select(name => $"'{name}'"))} (camelCase, case-sensitive).";
        if (message.StartsWith("Duplicate property '", StringComparison.Ordinal)) return "Given more than once; give each property once.";
        if (message.StartsWith(Unconvertible, StringComparison.Ordinal))
        {
            int end = message.IndexOf(". Path: ", StringComparison.Ordinal);
            return Expected(message[Unconvertible.Length..(end >= 0 ? end : message.Length)], error.InnerException);
        }
        if (message.StartsWith("The JSON property name of length", StringComparison.Ordinal)) return "A property name is too long.";
        if (message.StartsWith("The JSON value of length", StringComparison.Ordinal)) return "The value is too long.";
        if (message.StartsWith("A possible object cycle", StringComparison.Ordinal)) return "The JSON is nested too deeply.";
        if (message.Contains("doesn't allow", StringComparison.Ordinal)) return "Must not be null.";
        return "The value is not valid here.";
    }

    private const string Unmapped = "The JSON property '";
    private const string Unconvertible = "The JSON value could not be converted to ";

    /// <summary>"Expected a string; got a number.": the contract's type in JSON terms, and the token the client sent when known.</summary>
    private static string Expected(string type, Exception? inner)
    {
        if (inner is InvalidOperationException { Message: var transcoding } && transcoding.Contains("UTF-8", StringComparison.Ordinal))
            return "The string is not valid UTF-8.";
        string got = inner is InvalidOperationException && TokenType().Match(inner.Message) is { Success: true } token
            ? TokenKind(token.Groups[1].Value) is { } kind ? $"; got {kind}" : ""
            : "";
        return $"Expected {JsonKind(type)}{got}.";
    }

    private static string JsonKind(string type) => type switch
    {
        _ when type.Contains(nameof(DecodeStrategy), StringComparison.Ordinal) =>
            string.Join(" or ", Enum.GetNames<DecodeStrategy>().Select(name => $"\"{JsonNamingPolicy.CamelCase.ConvertName(name)}\"")),
        _ when type.Contains("List", StringComparison.Ordinal) || type.EndsWith("[]", StringComparison.Ordinal) => "an array",
        _ when type.Contains(nameof(Int32), StringComparison.Ordinal) => WholeNumber(int.MinValue, int.MaxValue),
        _ when type.Contains(nameof(Int64), StringComparison.Ordinal) => WholeNumber(long.MinValue, long.MaxValue),
        _ when type.Contains(nameof(Single), StringComparison.Ordinal) || type.Contains(nameof(Double), StringComparison.Ordinal) => "a number",
        _ when type.Contains(nameof(Boolean), StringComparison.Ordinal) => "true or false",
        _ when type.Contains(nameof(String), StringComparison.Ordinal) => "a string",
        _ => "an object",
    };

    private static string WholeNumber(long min, long max) => string.Create(CultureInfo.InvariantCulture, $"a whole number from {min} to {max}");

    /// <summary>A <see cref="JsonTokenType"/> name in JSON terms; null for one a value cannot start with.</summary>
    private static string? TokenKind(string tokenType) => tokenType switch
    {
        nameof(JsonTokenType.Number) => "a number",
        nameof(JsonTokenType.String) => "a string",
        nameof(JsonTokenType.True) => "true",
        nameof(JsonTokenType.False) => "false",
        nameof(JsonTokenType.Null) => "null",
        nameof(JsonTokenType.StartArray) => "an array",
        nameof(JsonTokenType.StartObject) => "an object",
        _ => null,
    };

    [GeneratedRegex(@"^Cannot get the value of a token type '([A-Za-z]+)'")]
    private static partial Regex TokenType();

    /// <summary>One segment of a System.Text.Json path: ".name" or "[index]" (names with other characters are written ['...']: never ours).</summary>
    [GeneratedRegex(@"\G(?:\.(?<name>[A-Za-z][A-Za-z0-9]*)(?=[.\[]|$)|\[\d+\])")]
    private static partial Regex PathSegment();
}
