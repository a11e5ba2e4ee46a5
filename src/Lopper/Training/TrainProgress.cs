namespace Lopper.Training;

/// <summary>A progress report during an epoch (for a progress bar).</summary>
/// <param name="Epoch">Epoch index, 0-based.</param>
/// <param name="Epochs">Total epochs.</param>
/// <param name="Batch">Batches done in this epoch.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="Loss">Running mean training loss this epoch.</param>
/// <param name="Accuracy">Running training accuracy this epoch.</param>
/// <param name="ImagesPerSecond">Throughput this epoch.</param>
/// <param name="EtaSeconds">Estimated seconds left for the whole run.</param>
public readonly record struct TrainProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double Accuracy, double ImagesPerSecond, double EtaSeconds);
