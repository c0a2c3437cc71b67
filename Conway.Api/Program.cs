using Conway.Api;
using Conway.Api.Endpoints;
using Conway.Api.Observability;

if (args.Contains(HealthProbe.Argument)) return await HealthProbe.RunAsync();

var builder = WebApplication.CreateBuilder(ContentRoot.Options(args));
builder.AddApplicationServices();
builder.AddDefaultOpenApi();

var app = builder.Build();
app.UseApplicationMiddleware();
app.UseDefaultOpenApi();
app.UseDefaultFiles();
app.UseStaticFiles();
app.MapHealthEndpoints();
app.MapPredictEndpoints();
app.MapModelEndpoints();
app.MapRolloutEndpoints();
app.MapPatternEndpoints();
app.MapMetricsEndpoint();
app.Run();
return 0;

public partial class Program { }
