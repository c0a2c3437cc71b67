using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace Conway.Analyzers;

/// <summary>
/// CONWAY001: no C# value may become a TorchSharp <c>Scalar</c> or <c>Tensor</c> through a conversion operator
/// (<c>t.masked_fill(mask, float.NegativeInfinity)</c>, <c>t.addcmul_(a, b, 1)</c>, ...) or through one of
/// TorchSharp's arithmetic operators that take a C# number (<c>t * 0.5</c>, <c>1 - t</c>, <c>t / 8</c>: they convert
/// it inside TorchSharp). Either way a native object is created that nothing holds: the native call receives its handle, and in
/// optimised code the object is unreachable from then on, so a garbage collection can run its finaliser and free it
/// while libtorch is still reading it (seen in Release as "toFloat at c10/core/Scalar.h:140", and possible as a
/// silently wrong value). Create such values explicitly and hold them for as long as native code may use them: a
/// constant as a field of its owner (disposed with it), a per-call value in a <c>using</c> declaration.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class NativeObjectConversionAnalyzer : DiagnosticAnalyzer
{
    public const string Id = "CONWAY001";

    private static readonly DiagnosticDescriptor Rule = new(
        Id,
        title: "A TorchSharp native object made by a conversion operator",
        messageFormat: "'{0}' becomes a TorchSharp {1} through a conversion operator: nothing holds that native object while " +
                       "libtorch reads it, so a garbage collection can free it mid-call in Release builds. Create it explicitly " +
                       "(ToScalar(), torch.tensor) and hold it: a field of its owner for a constant, 'using var' for a per-call value.",
        category: "Reliability",
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        description: "Conversion operators to TorchSharp.Scalar and TorchSharp.torch.Tensor create native objects that only the garbage collector frees.");

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => [Rule];

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterOperationAction(AnalyzeConversion, OperationKind.Conversion);
        context.RegisterOperationAction(AnalyzeOperator, OperationKind.Binary, OperationKind.CompoundAssignment);
    }

    private static void AnalyzeConversion(OperationAnalysisContext context)
    {
        var conversion = (IConversionOperation)context.Operation;
        if (conversion.OperatorMethod is not { } method || !IsNativeType(method.ReturnType)) return;
        Report(context, conversion.Operand, method.ReturnType.Name);
    }

    /// <summary>TorchSharp's <c>Tensor op number</c> and <c>number op Tensor</c> overloads make a Scalar of the number themselves.</summary>
    private static void AnalyzeOperator(OperationAnalysisContext context)
    {
        var (method, left, right) = context.Operation switch
        {
            IBinaryOperation binary => (binary.OperatorMethod, binary.LeftOperand, binary.RightOperand),
            ICompoundAssignmentOperation compound => (compound.OperatorMethod, compound.Target, compound.Value),
            _ => (null, null!, null!),
        };
        if (method is null || !IsNativeType(method.ContainingType) || method.Parameters.Length != 2) return;
        if (method.Parameters[0].Type.SpecialType != SpecialType.None) Report(context, left, "Scalar");
        if (method.Parameters[1].Type.SpecialType != SpecialType.None) Report(context, right, "Scalar");
    }

    private static void Report(OperationAnalysisContext context, IOperation operand, string type) =>
        context.ReportDiagnostic(Diagnostic.Create(Rule, operand.Syntax.GetLocation(), operand.Syntax.ToString(), type));

    private static bool IsNativeType(ITypeSymbol type) => type.ToDisplayString() is "TorchSharp.Scalar" or "TorchSharp.torch.Tensor";
}
