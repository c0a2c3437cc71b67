namespace Conway.Web.Tests;

/// <summary>
/// The page served at / by the real service, in headless Chromium: each test runs one scenario of e2e.mjs
/// (playwright-core) against the service started once for the class. Screenshots go to artifacts/screenshots.
/// </summary>
[Collection(BrowserCollection.Name)]
public sealed class WebPageTests(ConwayService service, ITestOutputHelper output) : IClassFixture<ConwayService>
{
    [BrowserFact]
    public Task DrawingAGliderByClickingAndPredicting_ShowsTheModelsNextStateEqualToTheRules() =>
        RunAsync("predicting a clicked glider shows the model next state equal to the rule");

    [BrowserFact]
    public Task Play_DrawsEachGenerationOfOneRolloutStream_AndStopEndsTheRolloutOnTheService() =>
        RunAsync("playing streams one rollout and stop ends it on the service");

    [BrowserFact]
    public Task PastingInvalidRle_ShowsTheServicesValidationMessage_AndKeepsTheBoard() =>
        RunAsync("pasting invalid rle shows the service validation message and keeps the board");

    [BrowserFact]
    public Task PastedRleAndPlaintext_LoadOntoTheBoard_AndCopyAsRleRoundTrips() =>
        RunAsync("pasted rle and plaintext load onto the board and copy as rle round trips");

    [BrowserFact]
    public Task BusyUnavailableOrUnreachableService_ShowsAClearMessage_AndStopsPlay() =>
        RunAsync("busy unavailable and unreachable service show clear messages and stop play");

    [BrowserFact]
    public Task KeyboardAlone_MovesTheCursor_TogglesCells_AndRunsTheShortcuts() =>
        RunAsync("keyboard alone moves the cursor toggles cells and runs the shortcuts");

    [BrowserFact]
    public Task AtPhoneWidth_ThePageFitsTheScreen_AndPredictStepAndPlayAreOnTheFirstScreen() =>
        RunAsync("at 390 px wide the page fits the screen and the controls are on the first screen");

    [BrowserFact]
    public Task StatusBadge_NamesTheDevicesAndTheModelThatReadinessReports() =>
        RunAsync("the status badge names the devices and model that readiness reports");

    [BrowserFact]
    public Task ThePage_RunsUnderItsContentSecurityPolicy_WithNoViolations() =>
        RunAsync("the page runs under its content security policy with no violations");

    [BrowserFact]
    public Task SwaggerUi_RendersTheApiUnderItsOwnPolicy_WithNoViolations() =>
        RunAsync("swagger ui renders the api under its own policy with no violations");

    [BrowserFact]
    public Task HeatMapColours_AreDistinctFromTheLegendsCellColours() =>
        RunAsync("the heat map colours are distinct from the legend colours");

    private Task RunAsync(string scenario) => E2eScript.RunAsync(service, output, scenario);
}
