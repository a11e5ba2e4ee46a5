using System.IO.Compression;
using Lopper.Cli.Experiments;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;

namespace Lopper.Fuzz;

/// <summary>
/// The readers under fuzzing, one entry point each. Shared by the bench runner (bench/fuzz) and the CI test that
/// replays the committed corpus: every input must give success or a <see cref="LopperInputException"/>; any other
/// exception is a bug.
/// </summary>
public static class FuzzTargets
{
    /// <summary>Reader names, also the corpus sub-folder names.</summary>
    public static readonly string[] Names = ["safetensors", "modeljson", "idx", "yaml"];

    /// <summary>Parameter budget while fuzzing: a mutated model.json must be refused before it allocates more.</summary>
    public const long ParameterBudget = 64L << 20;

    /// <summary>Runs reader <paramref name="target"/> on <paramref name="data"/> (written under <paramref name="tmp"/>); returns "ok" or the input error.</summary>
    public static string Run(string target, byte[] data, string tmp)
    {
        try
        {
            switch (target)
            {
                case "safetensors":
                    File.WriteAllBytes(Path.Combine(tmp, "w.safetensors"), data);
                    SafeTensors.Load(Path.Combine(tmp, "w.safetensors"));
                    break;
                case "modeljson":
                    {
                        File.WriteAllBytes(Path.Combine(tmp, "model.json"), data);
                        var graph = ModelJson.Load(Path.Combine(tmp, "model.json"));
                        Model.CheckBudget(graph, ParameterBudget);
                        _ = new Model(graph);
                        break;
                    }
                case "idx":
                    {
                        // The same bytes as images and as labels, raw and (when not already) gzip-compressed.
                        string raw = Path.Combine(tmp, "x-idx"), gz = Path.Combine(tmp, "x-idx.gz");
                        File.WriteAllBytes(raw, data);
                        using (var fs = File.Create(gz))
                        using (var z = new GZipStream(fs, CompressionLevel.Fastest)) z.Write(data);
                        string r1 = Outcome(() => IdxReader.ReadImages(raw)), r2 = Outcome(() => IdxReader.ReadLabels(raw, 10));
                        string r3 = Outcome(() => IdxReader.ReadImages(gz)), r4 = Outcome(() => IdxReader.ReadLabels(gz, 10));
                        return $"{r1} | {r2} | {r3} | {r4}";
                    }
                case "yaml":
                    File.WriteAllBytes(Path.Combine(tmp, "exp.yaml"), data);
                    ExperimentConfig.Load(Path.Combine(tmp, "exp.yaml"));
                    break;
                default:
                    throw new ArgumentException($"unknown fuzz target '{target}'");
            }
            return "ok";
        }
        catch (LopperInputException e)
        {
            return "input: " + e.Message.Replace(tmp, "TMP", StringComparison.Ordinal);
        }
    }

    private static string Outcome(Action read)
    {
        try { read(); return "ok"; }
        catch (LopperInputException e) { return "input: " + e.Message; }
    }
}
