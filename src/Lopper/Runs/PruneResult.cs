using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;

namespace Lopper.Runs;

/// <summary>What <see cref="PrunePipeline.Run"/> returns: the pruned (compacted or masked) model and its record.</summary>
public sealed class PruneResult
{
    /// <summary>The pruned model, fine-tuned when asked.</summary>
    public required Model Model { get; init; }

    /// <summary>Every figure of the run.</summary>
    public required PruneRecord Record { get; init; }

    /// <summary>The preprocessing record the model carries (the source's), or null when none is known.</summary>
    public Preprocessing? Preprocessing { get; init; }

    /// <summary>Writes the model, run.json and preprocessing.json into <paramref name="dir"/> (an ordinary run folder).</summary>
    public void Save(string dir)
    {
        ModelStore.Save(Model, dir);
        AtomicFile.WriteText(Path.Combine(dir, RunFolder.RunFile), JsonText.Write(Record.ToJson()));
        if (Preprocessing is not null) RunFolder.SavePreprocessing(Preprocessing, dir);
    }
}
