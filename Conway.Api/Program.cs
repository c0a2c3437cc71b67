using Conway.Api;
using Conway.Api.Endpoints;

var builder = WebApplication.CreateBuilder(args);
builder.AddApplicationServices();
builder.AddDefaultOpenApi();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseDefaultOpenApi();
app.UseDefaultFiles();
app.UseStaticFiles();
app.MapHealthEndpoints();
app.MapPredictEndpoints();
app.MapPatternEndpoints();
app.Run();

public partial class Program { }
