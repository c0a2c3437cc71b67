using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// Creates the predictor for one device. Each <see cref="DeviceWorker"/> calls it once, on its own thread, at startup.
/// The real model is registered in <see cref="ServingExtensions.AddModelServing"/>; tests register their own.
/// </summary>
public delegate IBoardPredictor PredictorFactory(ModelOptions options, string device);
