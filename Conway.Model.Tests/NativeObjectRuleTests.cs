using System.Reflection;
using System.Reflection.Emit;
using TorchSharp;

namespace Conway.Model.Tests;

/// <summary>
/// The rule of <see cref="Scalars"/>, checked on the compiled code: no method of this repository's libraries may call a
/// TorchSharp member that makes a <see cref="Scalar"/> nothing holds. The compile-time rule (CONWAY001) sees only
/// conversions written in this repository; TorchSharp makes such temporaries itself too (<c>t.add_(u)</c> is
/// <c>t.add_(u, 1)</c>, <c>a + b</c> is <c>a.add(b)</c>, <c>t / 8</c> converts the 8), and a collection can free them
/// while libtorch reads them. This reads the IL of every method of Conway.Model, Conway.Training and Conway.Cli, follows each call
/// into TorchSharp through TorchSharp's own calls, and lists the calls that reach a Scalar made by a conversion.
/// </summary>
public sealed class NativeObjectRuleTests
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static).Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    private readonly Dictionary<MethodBase, bool> _makesScalars = [];

    [Theory]
    [InlineData("Conway.Model", 20)]
    [InlineData("Conway.Training", 20)]
    [InlineData("conway", 10)]                    // Conway.Cli: bench's ceilings, train's export (19 calls)
    public void No_method_calls_TorchSharp_in_a_way_that_makes_a_scalar_nothing_holds(string assemblyName, int minimumCalls)
    {
        var assembly = Assembly.Load(assemblyName);
        var offenders = new List<string>();
        int torchCalls = 0;
        foreach (var type in assembly.GetTypes())
            foreach (var method in Methods(type))
                foreach (var callee in Callees(method))
                {
                    if (!IsTorchSharp(callee)) continue;
                    torchCalls++;
                    if (MakesScalar(callee, depth: 0))
                        offenders.Add($"{type.FullName}.{method.Name} calls {callee.DeclaringType?.Name}.{callee}");
                }

        Assert.True(torchCalls >= minimumCalls, $"only {torchCalls} calls into TorchSharp found in {assemblyName}: the scan is broken");
        Assert.True(offenders.Count == 0, "calls that make a TorchSharp Scalar nothing holds (pass a held one, see Conway.Model.Scalars):\n"
            + string.Join("\n", offenders.Distinct().Order()));
    }

    [Fact]
    public void The_scan_finds_a_scalar_made_by_a_conversion_inside_TorchSharp_and_passes_a_held_one()
    {
        var addImplicitAlpha = typeof(torch.Tensor).GetMethod(nameof(torch.Tensor.add_), [typeof(torch.Tensor)])!;
        var addHeldAlpha = typeof(torch.Tensor).GetMethod(nameof(torch.Tensor.add_), [typeof(torch.Tensor), typeof(Scalar)])!;

        Assert.True(MakesScalar(addImplicitAlpha, 0), "add_(Tensor) makes its alpha 1 implicitly, and the scan misses it");
        Assert.False(MakesScalar(addHeldAlpha, 0), "add_(Tensor, Scalar) passes the caller's scalar, and the scan flags it");
    }

    /// <summary>Whether a TorchSharp member makes a Scalar by conversion, itself or through the TorchSharp members it calls.</summary>
    private bool MakesScalar(MethodBase method, int depth)
    {
        if (_makesScalars.TryGetValue(method, out bool known)) return known;
        _makesScalars[method] = false;                                          // cycles count as clean
        bool makes = Callees(method).Any(callee => IsScalarConversion(callee)
            || depth < 4 && IsTorchSharp(callee) && MakesScalar(callee, depth + 1));
        return _makesScalars[method] = makes;
    }

    private static bool IsScalarConversion(MethodBase method) =>
        method is MethodInfo { ReturnType: var returns } && returns == typeof(Scalar)
        && (method.Name == "op_Implicit" || method.Name.StartsWith("ToScalar", StringComparison.Ordinal));

    private static bool IsTorchSharp(MethodBase method) => method.DeclaringType?.Assembly == typeof(Scalar).Assembly;

    private static IEnumerable<MethodBase> Methods(Type type) =>
        type.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
            .Cast<MethodBase>()
            .Concat(type.GetConstructors(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly));

    /// <summary>The methods a method's IL calls (call, callvirt, newobj, ldftn), decoded with the runtime's opcode table.</summary>
    private static IEnumerable<MethodBase> Callees(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException) { il = null; }
        if (il is null) yield break;
        var typeArgs = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        var methodArgs = method is MethodInfo { IsGenericMethod: true } m ? m.GetGenericArguments() : null;
        for (int at = 0; at < il.Length;)
        {
            short value = il[at] == 0xFE ? (short)(0xFE00 | il[at + 1]) : il[at];
            var op = OpCodesByValue[value];
            at += op.Size;
            int operand = OperandSize(op, il, at);
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? callee = null;
                try { callee = method.Module.ResolveMethod(BitConverter.ToInt32(il, at), typeArgs, methodArgs); }
                catch (Exception e) when (e is ArgumentException or BadImageFormatException or TypeLoadException) { }
                if (callee is not null) yield return callee;
            }
            at += operand;
        }
    }

    private static int OperandSize(OpCode op, byte[] il, int at) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
        _ => 4,
    };
}
