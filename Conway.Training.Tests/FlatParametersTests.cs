using Conway.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Conway.Training.Tests;

public sealed class FlatParametersTests
{
    [Fact]
    public void The_parameters_become_views_of_one_buffer_with_their_values_and_their_gradients_views_of_another()
    {
        using var model = Model(seed: 3);
        var before = model.parameters().Select(p => p.detach().clone()).ToArray();
        using var flat = new FlatParameters(model.parameters().ToArray(), maxNorm: 1.0);

        var parameters = model.parameters().ToArray();
        Assert.Equal(parameters.Sum(p => p.numel()), flat.All.numel());
        for (int i = 0; i < parameters.Length; i++) Assert.True(Same(parameters[i], before[i]), $"parameter {i} changed value");
        Backward(model, Tokens(seed: 5));
        using var grads = cat(parameters.Select(p => p.grad!.reshape(-1)).ToArray());
        Assert.True(grads.abs().sum().item<float>() > 0);
        Assert.True(Same(flat.All.grad!, grads), "the buffer's gradient is not the parameters' gradients");
        using var one = 1.0.ToScalar();
        using (no_grad()) flat.All.add_(one);                        // writing the buffer writes every parameter
        for (int i = 0; i < parameters.Length; i++) Assert.True(Same(parameters[i], before[i].add(one)), $"parameter {i} is not a view of the buffer");
    }

    [Fact]
    public void AdamW_over_the_buffer_gives_bitwise_the_weights_of_AdamW_over_each_parameter()
    {
        using var perTensor = Model(seed: 3);
        using var flatModel = Model(seed: 3);
        var parameters = perTensor.parameters().ToArray();
        using var optimizer = optim.AdamW(parameters, 1e-3, 0.9, 0.95, weight_decay: 0.01);
        using var flat = new FlatParameters(flatModel.parameters().ToArray(), maxNorm: 1e9);   // a bound no gradient reaches
        using var flatOptimizer = optim.AdamW([flat.All], 1e-3, 0.9, 0.95, weight_decay: 0.01);

        for (int step = 0; step < 3; step++)
        {
            using var tokens = Tokens(seed: 10 + step);
            optimizer.zero_grad();
            Backward(perTensor, tokens);
            optimizer.step();
            flat.ZeroGrad();
            Backward(flatModel, tokens);
            flat.ClipGradNorm();
            flatOptimizer.step();
        }

        var expected = perTensor.parameters().ToArray();
        var actual = flatModel.parameters().ToArray();
        using var initial = Model(seed: 3);
        Assert.True(expected.Zip(initial.parameters()).Any(p => !Same(p.First, p.Second)), "the steps moved nothing");
        for (int i = 0; i < expected.Length; i++) Assert.True(Same(expected[i], actual[i]), $"parameter {i} differs");
    }

    [Fact]
    public void Clipping_scales_the_gradients_to_the_bound_as_clip_grad_norm_does()
    {
        using var perTensor = Model(seed: 3);
        using var flatModel = Model(seed: 3);
        using var flat = new FlatParameters(flatModel.parameters().ToArray(), maxNorm: 0.5);
        using var tokens = Tokens(seed: 7);
        Backward(perTensor, tokens);
        Backward(flatModel, tokens);
        double norm = flat.All.grad!.norm().item<float>();
        Assert.True(norm > 0.5, $"the gradients' norm {norm} is under the bound: nothing to clip");

        nn.utils.clip_grad_norm_(perTensor.parameters().ToArray(), 0.5);
        flat.ClipGradNorm();

        using var expected = cat(perTensor.parameters().Select(p => p.grad!.reshape(-1)).ToArray());
        double expectedNorm = expected.to(ScalarType.Float64).norm().item<double>(), actualNorm = flat.All.grad!.to(ScalarType.Float64).norm().item<double>();
        Assert.True(Math.Abs(actualNorm - 0.5) < 1e-4 && Math.Abs(expectedNorm - 0.5) < 1e-4, $"norms after clipping: {actualNorm} (flat), {expectedNorm} (clip_grad_norm_), {norm} before");
        Assert.True(flat.All.grad!.allclose(expected, rtol: 1e-4, atol: 0), "the clipped gradients differ from clip_grad_norm_'s");
    }

    /// <summary>Bitwise equal (NaN aside, which none of these hold).</summary>
    private static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    private static LifeGpt Model(int seed)
    {
        manual_seed(seed);
        var model = new LifeGpt();
        model.MoveTo(CPU, ScalarType.Float32);
        return model;
    }

    private static Tensor Tokens(int seed)
    {
        manual_seed(seed);
        return randint(0, LifeGptShape.Vocab, [2, 24], ScalarType.Int64);
    }

    private static void Backward(LifeGpt model, Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var logits = model.forward(tokens.narrow(1, 0, 23));
        F.cross_entropy(logits.reshape(-1, LifeGptShape.Vocab), tokens.narrow(1, 1, 23).reshape(-1)).backward();
    }
}
