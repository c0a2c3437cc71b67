using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Conway.Api.Contracts;

/// <summary>
/// A <see cref="RangeAttribute"/> whose message also says what was sent (a number, so safe to repeat): "Must be from 1
/// to 256; got 300.". The message format's {1} and {2} are the bounds, {3} the value. OpenAPI renders the bounds as
/// <c>minimum</c> and <c>maximum</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class WithinAttribute : RangeAttribute
{
    public WithinAttribute(int minimum, int maximum) : base(minimum, maximum) => ErrorMessage = "Must be from {1} to {2}; got {3}.";

    public WithinAttribute(double minimum, double maximum) : base(minimum, maximum) => ErrorMessage = "Must be from {1} to {2}; got {3}.";

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        value is null || IsValid(value)
            ? ValidationResult.Success
            : new ValidationResult(
                string.Format(CultureInfo.InvariantCulture, ErrorMessageString, validationContext.DisplayName, Minimum, Maximum, value),
                validationContext.MemberName is { } member ? [member] : null);
}
