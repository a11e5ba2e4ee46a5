using Lopper.Data;
using Lopper.Pruning.Snacs;

namespace Lopper.Pruning.SrInit;

/// <summary>The data SR-init measures its drops on: a class-balanced probe drawn from the training set.</summary>
public static class SrInitProbe
{
    /// <summary>
    /// A loader over <paramref name="perClass"/> training images of each class (seeded, without replacement; a class
    /// with fewer gives all it has), in evaluation form: no shuffling, no augmentation, the training normalisation.
    /// </summary>
    public static DataLoader Draw(DataLoader train, int perClass, ulong seed)
    {
        var indices = ActivationProbe.DrawIndices(train.Data, perClass, seed);
        var probe = ActivationProbe.Subset(train.Data, indices);
        return new DataLoader(probe, Math.Min(128, probe.Count), seed, shuffle: false, train.Mean.ToArray(), train.Std.ToArray());
    }
}
