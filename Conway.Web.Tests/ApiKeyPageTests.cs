namespace Conway.Web.Tests;

/// <summary>The page against a service that requires an API key (Auth:ApiKeys), in headless Chromium.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ApiKeyPageTests(ConwayServiceWithApiKey service, ITestOutputHelper output) : IClassFixture<ConwayServiceWithApiKey>
{
    [BrowserFact]
    public Task WithoutAKey_ThePageAsksForOneOn401_AndSaysWhenAKeyIsNotAccepted() =>
        RunAsync("without a key the page asks for one and a wrong key is said to be not accepted");

    [BrowserFact]
    public Task AnEnteredKey_IsSentAsXApiKeyOnEveryApiRequest_AndKeptInSessionStorageNotTheUrl() =>
        RunAsync("an entered key is sent on every api request and kept in session storage not the url");

    private Task RunAsync(string scenario) => E2eScript.RunAsync(service, output, scenario, ConwayServiceWithApiKey.ApiKey);
}
