using System.Text.Json;

namespace Conway.Api.Serving;

/// <summary>
/// The accuracy summary of a model card: the <c>.train.json</c> that <c>conway train --export</c> writes beside a
/// checkpoint (models/lifegpt.train.json for the shipped model). Null when there is none or it cannot be read.
/// </summary>
/// <param name="Steps">Training steps.</param>
/// <param name="HeldOutCells">Teacher-forced accuracy on held-out boards, per cell (0 to 1).</param>
/// <param name="HeldOutBoards">The same, per whole board.</param>
/// <param name="Sha256">The checkpoint's SHA-256 the card records.</param>
public sealed record ModelCard(int? Steps, double? HeldOutCells, double? HeldOutBoards, string? Sha256)
{
    public static string PathBeside(string checkpoint) => Path.ChangeExtension(checkpoint, ".train.json");

    public static ModelCard? Beside(string checkpoint)
    {
        try
        {
            using var card = JsonDocument.Parse(File.ReadAllText(PathBeside(checkpoint)));
            var root = card.RootElement;
            var heldOut = root.TryGetProperty("heldOutTeacherForced", out var found) ? found : default;
            return new ModelCard(Int(root, "steps"), Number(heldOut, "Cells"), Number(heldOut, "Boards"),
                root.TryGetProperty("sha256", out var sha) && sha.ValueKind == JsonValueKind.String ? sha.GetString() : null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    private static int? Int(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.TryGetInt32(out int number) ? number : null;

    private static double? Number(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.TryGetDouble(out double number) ? number : null;
}
