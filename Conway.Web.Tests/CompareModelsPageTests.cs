namespace Conway.Web.Tests;

/// <summary>The page against a service with two models (<see cref="ConwayServiceWithTwoModels"/>), in headless Chromium.</summary>
[Collection(BrowserCollection.Name)]
public sealed class CompareModelsPageTests(ConwayServiceWithTwoModels service, ITestOutputHelper output) : IClassFixture<ConwayServiceWithTwoModels>
{
    [BrowserFact(NeedsSharedData = true)]
    public Task ComparingTwoModels_PlaysARolloutOfEachSideBySide_WithEachFirstDivergenceMarked() =>
        E2eScript.RunAsync(service, output, "comparing two models plays a rollout of each side by side with each first divergence marked");
}
