using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Training;
using Lopper.Runs;
using Lopper.Imaging;

namespace Lopper.Cli.Commands;

/// <summary>`lopper train --from DIR [--reset-head N|data] [--freeze-until NODE]`: start from a trained model.</summary>
public static class TransferFlags
{
    /// <summary>The graph name in DIR/model.json ("" when unknown), so a --from run gets the same per-model defaults as --model.</summary>
    public static string ModelName(string? dir)
    {
        if (dir is null) return "";
        try { return ModelJson.Load(Path.Combine(dir, ModelStore.GraphFile)).Name; }
        catch (LopperInputException) { return ""; } // reported properly when the model is loaded
        catch (IOException) { return ""; }
    }

    /// <summary>
    /// The model of --from with its classifier replaced when --reset-head (<paramref name="reset"/>) asks (N, or
    /// "data" for the data's class count), and its folder.
    /// </summary>
    public static (Model Model, RunFolder Folder) Load(string from, string? reset, Dataset train, ulong seed)
    {
        var folder = RunFolder.Load(from, SkiaImageDecoder.Instance);
        var model = folder.Model;
        if (!model.Graph.InputShape.AsSpan().SequenceEqual(new[] { train.Channels, train.Height, train.Width }))
            throw new LopperInputException($"--from {from}: model takes {string.Join("x", model.Graph.InputShape)}, the data is {train.Channels}x{train.Height}x{train.Width} (use --resize/--crop to match)");
        if (reset is null)
        {
            if (model.Graph.Classes != train.ClassCount)
                throw new LopperInputException($"--from {from}: model has {model.Graph.Classes} classes, the data {train.ClassCount}; pass --reset-head {train.ClassCount}");
            return (model, folder);
        }
        int classes = train.ClassCount;
        if (reset != "data")
        {
            if (!int.TryParse(reset, out classes) || classes < 1) throw new LopperInputException($"--reset-head must be a class count or 'data', got '{reset}'");
            if (classes != train.ClassCount)
                throw new LopperInputException($"--reset-head {classes}: the data has {train.ClassCount} classes ({string.Join(", ", train.ClassNames.Take(10))}{(train.ClassCount > 10 ? ", ..." : "")})");
        }
        return (Transfer.ResetHead(model, classes, seed), folder);
    }
}
