using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// Creates the predictor. <see cref="ModelWorker"/> calls it once, on the model thread, at startup.
/// The real model is registered in <see cref="ServingExtensions.AddModelServing"/>; tests register their own.
/// </summary>
public delegate IBoardPredictor PredictorFactory(ModelOptions options);
