using System.ComponentModel.DataAnnotations;
using Conway.Api.Serving;

namespace Conway.Api.Contracts;

/// <summary>
/// A model name the service serves (<see cref="ModelHost.Find"/>: compared ignoring case), or none (the default model).
/// The message lists the names it knows, and (like every message about the body) does not repeat what was sent.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class KnownModelAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        if (value is not string name) return ValidationResult.Success;
        var host = validationContext.GetRequiredService<ModelHost>();
        return host.Find(name) is not null
            ? ValidationResult.Success
            : new ValidationResult($"No model has that name; the models served are: {string.Join(", ", host.Served.Select(model => model.Name))}.",
                validationContext.MemberName is { } member ? [member] : null);
    }
}
