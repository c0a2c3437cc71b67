using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Validation;

namespace Conway.Api.Contracts;

/// <summary>A board to convert, given as exactly one of <c>board</c>, <c>rle</c> or <c>cells</c>.</summary>
[ValidatableType]
public sealed record PatternRequest : IValidatableObject
{
    /// <summary>32 rows of 32 characters, '0' (dead) or '1' (alive).</summary>
    public IReadOnlyList<string?>? Board { get; init; }

    /// <summary>A pattern in RLE, placed with its top-left corner at cell (0, 0).</summary>
    public string? Rle { get; init; }

    /// <summary>A pattern in plaintext (.cells), placed with its top-left corner at cell (0, 0).</summary>
    public string? Cells { get; init; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext) => BoardForms.Validate(Board, Rle, Cells);
}

/// <summary>A board on the 32x32 torus in the forms the API reads.</summary>
/// <param name="Board">32 rows of '0'/'1'.</param>
/// <param name="Population">How many cells are alive.</param>
/// <param name="Rle">The board as RLE (x = 32, y = 32).</param>
public sealed record PatternResponse(IReadOnlyList<string> Board, int Population, string Rle)
{
    /// <summary>The catalogue name; only in the <c>/patterns</c> list.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }
}
