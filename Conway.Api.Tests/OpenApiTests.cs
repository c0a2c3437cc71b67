using System.Net;
using static Conway.Api.Tests.Given;

namespace Conway.Api.Tests;

public sealed class OpenApiTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task OpenApiDocument_DescribesPredictWithAGliderExample()
    {
        var response = await api.CreateClient().GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var predict = (await BodyOf(response))["paths"]!["/predict"]!["post"]!;
        Assert.Equal("Predict the next state of one board", (string)predict["summary"]!);
        Assert.Contains("exactly one of", (string)predict["description"]!);
        var request = predict["requestBody"]!["content"]!["application/json"]!["example"]!;
        Assert.Equal(Row("111"), (string)request["board"]![2]!);
        var answer = predict["responses"]!["200"]!["content"]!["application/json"]!["example"]!;
        Assert.Equal(Row("101"), (string)answer["next"]![1]!);
        Assert.True((bool)answer["matchesRule"]!);
        Assert.NotNull(predict["responses"]!["429"]);
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheBatchEndpointWithAnExample()
    {
        var document = await BodyOf(await api.CreateClient().GetAsync("/openapi/v1.json"));

        var batch = document["paths"]!["/predict/batch"]!["post"]!;
        Assert.Equal(2, batch["requestBody"]!["content"]!["application/json"]!["example"]!["boards"]!.AsArray().Count);
        Assert.Equal(2, (int)batch["responses"]!["200"]!["content"]!["application/json"]!["example"]!["matchingRule"]!);
    }

    [Fact]
    public async Task SwaggerUi_IsServedOverTheOpenApiDocument()
    {
        var client = api.CreateClient();

        var page = await client.GetAsync("/swagger");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("swagger-ui", await page.Content.ReadAsStringAsync());
        Assert.Contains("/openapi/v1.json", await client.GetStringAsync("/swagger/index.js"));
    }
}
