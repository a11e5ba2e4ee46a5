using System.Text.Json;
using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Tensors;

namespace Lopper.Training;

/// <summary>
/// One epoch's checkpoint, read and validated in full: RUN/checkpoints/NNNNNN/ holds model.json,
/// weights.safetensors, optimizer.safetensors, train_state.json and run.json. A checkpoint folder is written
/// complete under a temporary name and switched in with one rename, so a folder with a checkpoint's name is
/// always complete; the previous one is kept until the next is in place.
/// </summary>
public sealed class Checkpoint
{
    /// <summary>Sub-folder of a run folder that holds the checkpoints.</summary>
    public const string Folder = "checkpoints";

    /// <summary>The checkpoint folder.</summary>
    public required string Dir { get; init; }
    /// <summary>The saved training configuration (validated like the command-line flags).</summary>
    public required TrainConfig Config { get; init; }
    /// <summary>Epochs completed when it was written.</summary>
    public required int CompletedEpochs { get; init; }
    /// <summary>Best test accuracy so far (-1: none).</summary>
    public required double BestAccuracy { get; init; }
    /// <summary>Optimizer steps taken.</summary>
    public required long OptimizerSteps { get; init; }
    /// <summary>Per-epoch records.</summary>
    public required JsonArray History { get; init; }
    /// <summary>The run record (run.json).</summary>
    public required JsonObject Run { get; init; }
    /// <summary>The model with the checkpoint's weights loaded.</summary>
    public required Model Model { get; init; }
    /// <summary>Optimizer state tensors, checked against the model and the configured optimizer.</summary>
    public required IReadOnlyDictionary<string, Tensor> OptimizerState { get; init; }
    /// <summary>Newer checkpoints that were skipped because they failed validation, with the reason.</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];

    /// <summary>Folder of the checkpoint after <paramref name="epoch"/> epochs.</summary>
    public static string PathOf(string runDir, int epoch) => Path.Combine(runDir, Folder, epoch.ToString("D6", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Complete checkpoint folders of a run, newest first; a folder written by an older Lopper (files at the top) comes last.</summary>
    public static IReadOnlyList<string> Candidates(string runDir)
    {
        var list = new List<(int Epoch, string Dir)>();
        var root = Path.Combine(runDir, Folder);
        if (Directory.Exists(root))
            foreach (var d in Directory.GetDirectories(root))
            {
                string n = Path.GetFileName(d);
                if (n.Length == 6 && n.All(char.IsAsciiDigit)) list.Add((int.Parse(n, System.Globalization.CultureInfo.InvariantCulture), d));
            }
        list.Sort((a, b) => b.Epoch.CompareTo(a.Epoch));
        var r = list.Select(x => x.Dir).ToList();
        if (File.Exists(Path.Combine(runDir, Trainer.StateFile))) r.Add(runDir);
        return r;
    }

    /// <summary>True when the run folder has at least one checkpoint.</summary>
    public static bool Any(string runDir) => Candidates(runDir).Count > 0;

    /// <summary>
    /// The newest checkpoint of <paramref name="runDir"/> that passes every check, falling back to older ones;
    /// <see cref="Skipped"/> says why newer ones were passed over. Throws naming the newest one's first problem
    /// when none is usable. <paramref name="runDir"/> may also be a checkpoint folder itself.
    /// </summary>
    public static Checkpoint Latest(string runDir, string flag = "run folder")
    {
        if (!Directory.Exists(runDir)) throw new LopperInputException($"{flag} {runDir}: folder not found");
        var candidates = Candidates(runDir);
        if (candidates.Count == 0)
            throw new LopperInputException($"{flag} {runDir}: no checkpoint there (no {Folder}/NNNNNN folder or {Trainer.StateFile}; not a lopper train folder, or no epoch finished)");
        var skipped = new List<string>();
        foreach (var dir in candidates)
        {
            try
            {
                var cp = Read(dir);
                return skipped.Count == 0 ? cp : new Checkpoint
                {
                    Dir = cp.Dir, Config = cp.Config, CompletedEpochs = cp.CompletedEpochs, BestAccuracy = cp.BestAccuracy,
                    OptimizerSteps = cp.OptimizerSteps, History = cp.History, Run = cp.Run, Model = cp.Model,
                    OptimizerState = cp.OptimizerState, Skipped = skipped,
                };
            }
            catch (LopperInputException e)
            {
                skipped.Add(e.Message);
            }
        }
        throw new LopperInputException(skipped[0] + (skipped.Count > 1 ? $" (and {skipped.Count - 1} older checkpoint(s) failed too)" : ""));
    }

    /// <summary>Reads one checkpoint folder, validating every file, value and tensor; the error names the first problem.</summary>
    public static Checkpoint Read(string dir)
    {
        var statePath = Path.Combine(dir, Trainer.StateFile);
        var state = ReadObject(statePath);
        var config = state["config"] is { } c ? TrainConfig.FromJson(c, statePath) : throw new LopperInputException($"{statePath}: field 'config' missing");
        int completed = (int)Integer(state, "completed_epochs", statePath, 0, int.MaxValue);
        if (completed > config.Epochs) throw new LopperInputException($"{statePath}: completed_epochs {completed} exceeds the configured {config.Epochs} epochs");
        long steps = Integer(state, "optimizer_steps", statePath, 0, long.MaxValue);
        double best = -1;
        if (state["best_accuracy"] is { } b)
        {
            if (b is not JsonValue bv || bv.GetValueKind() != JsonValueKind.Number || !(bv.GetValue<double>() is var d && d >= -1 && d <= 1))
                throw new LopperInputException($"{statePath}: field 'best_accuracy' must be a number in [-1, 1]");
            best = d;
        }
        var history = state["history"] switch
        {
            null => new JsonArray(),
            JsonArray h => (JsonArray)h.DeepClone(),
            _ => throw new LopperInputException($"{statePath}: field 'history' must be an array"),
        };
        var runPath = Path.Combine(dir, "run.json");
        var run = ReadObject(runPath);
        var model = new Model(ModelJson.Load(Path.Combine(dir, ModelStore.GraphFile)));
        var weightsPath = Path.Combine(dir, ModelStore.WeightsFile);
        var (weights, meta) = SafeTensors.Load(weightsPath);
        if (!meta.TryGetValue("epoch", out var e) || e != completed.ToString(System.Globalization.CultureInfo.InvariantCulture))
            throw new LopperInputException($"{dir}: weights are from epoch {e ?? "?"} but train_state says {completed}; the checkpoint is inconsistent");
        ModelStore.LoadWeights(model, weights, weightsPath);
        var optPath = Path.Combine(dir, Trainer.OptimizerFile);
        var (opt, _) = SafeTensors.Load(optPath);
        // A throwaway optimizer of the configured kind checks names and shapes against the model.
        try
        {
            config.CreateOptimizer(model, 1).Restore(opt, steps, model);
        }
        catch (LopperInputException ex)
        {
            throw new LopperInputException($"{optPath}: {ex.Message}");
        }
        return new Checkpoint
        {
            Dir = dir, Config = config, CompletedEpochs = completed, BestAccuracy = best, OptimizerSteps = steps,
            History = history, Run = run, Model = model, OptimizerState = opt,
        };
    }

    /// <summary>
    /// Writes the checkpoint after <paramref name="epoch"/> epochs: <paramref name="fill"/> writes the files into a
    /// temporary folder, which is flushed and renamed into place; then checkpoints older than the previous one are deleted.
    /// </summary>
    public static void Write(string runDir, int epoch, Action<string> fill)
    {
        AtomicDirectory.Write(PathOf(runDir, epoch), fill);
        foreach (var old in Candidates(runDir))
        {
            string n = Path.GetFileName(old);
            if (old != runDir && n.Length == 6 && int.TryParse(n, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int k) && k < epoch - 1)
                Directory.Delete(old, recursive: true);
        }
    }

    /// <summary>
    /// Cleans what a killed writer left in a run folder: temporary files and folders, and a replaced folder
    /// whose successor never arrived. Call while holding the folder's <see cref="RunLock"/>.
    /// </summary>
    public static void Recover(string runDir)
    {
        AtomicDirectory.Recover(runDir);
        AtomicDirectory.Recover(Path.Combine(runDir, Folder));
    }

    private static JsonObject ReadObject(string path)
    {
        if (!File.Exists(path)) throw new LopperInputException($"{path}: not found (incomplete checkpoint)");
        try
        {
            return JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { MaxDepth = 64, AllowDuplicateProperties = false }) as JsonObject
                ?? throw new LopperInputException($"{path}: not a JSON object");
        }
        catch (JsonException ex)
        {
            throw new LopperInputException($"{path}: invalid JSON: {ex.Message}");
        }
    }

    private static long Integer(JsonObject o, string field, string path, long min, long max)
    {
        if (o[field] is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue(out long x) && !TryWhole(v, out x))
            throw new LopperInputException($"{path}: field '{field}' must be an integer");
        if (x < min || x > max) throw new LopperInputException($"{path}: field '{field}' must be in [{min}, {max}], got {x}");
        return x;
    }

    private static bool TryWhole(JsonValue v, out long x)
    {
        x = 0;
        return v.TryGetValue(out JsonElement el) && el.TryGetInt64(out x);
    }
}
