using Conway.Api;
using Conway.Api.Endpoints;

var builder = WebApplication.CreateBuilder(args);
builder.AddApplicationServices();
builder.AddDefaultOpenApi();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseDefaultOpenApi();
app.MapHealthEndpoints();
app.MapPredictEndpoints();
app.Run();

public partial class Program { }
