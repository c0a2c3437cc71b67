using Conway.Decoding;

namespace Conway.Api.Serving;

/// <summary>
/// Creates the predictor of the checkpoint at <c>path</c> for one device. Each <see cref="DeviceWorker"/> calls it once per
/// served model, on its own thread, at startup (and again for a model it reloads).
/// The real model is registered in <see cref="ServingExtensions.AddModelServing"/>; tests register their own.
/// </summary>
public delegate IBoardPredictor PredictorFactory(ModelOptions options, string path, string device);
