using System.Text.Json.Nodes;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Pruning;
using Lopper.Training;

namespace Lopper.Runs;

/// <summary>
/// Whether a prune run's fine-tune, interrupted in its folder, can go on. The pruning itself is not saved: it is
/// seeded and is simply done again, so the newest checkpoint is taken only when it belongs to that pruning (same
/// method, source, data and fine-tuning settings, the same compacted graph, every masked weight still zero).
/// Anything else is said and the fine-tune starts over, so a resume never mixes two different prunings.
/// </summary>
internal static class FinetuneResume
{
    /// <summary>The checkpoint to continue from, or null (with the reason logged) to start the fine-tune afresh.</summary>
    public static Checkpoint? Find(string outDir, Model pruned, ParameterMasks? masks, JsonObject record, TrainConfig config, Action<string> log)
    {
        if (!Checkpoint.Any(outDir))
        {
            log($"nothing to resume in {outDir} (no checkpoint): fine-tuning from the start");
            return null;
        }
        Checkpoint cp;
        try
        {
            cp = Checkpoint.Latest(outDir);
        }
        catch (LopperInputException e)
        {
            log($"not resuming: {e.Message}; fine-tuning from the start");
            return null;
        }
        foreach (var skipped in cp.Skipped) log($"warning: skipped a checkpoint that failed its checks: {skipped}");
        string? why = Mismatch(cp, pruned, masks, record, config);
        if (why is not null)
        {
            log($"not resuming the fine-tune in {outDir}: its checkpoint is from another pruning ({why}); fine-tuning from the start");
            return null;
        }
        log($"resuming the fine-tune in {outDir} after epoch {cp.CompletedEpochs} of {config.Epochs}");
        return cp;
    }

    private static string? Mismatch(Checkpoint cp, Model pruned, ParameterMasks? masks, JsonObject record, TrainConfig config)
    {
        foreach (var key in new[] { "method", "source", "dataset" })
            if (!JsonNode.DeepEquals(cp.Run[key], record[key])) return $"its {key} is {cp.Run[key]?.ToJsonString() ?? "missing"}, this run's {record[key]?.ToJsonString()}";
        if (!JsonNode.DeepEquals(cp.Config.ToJson(), config.ToJson())) return "other fine-tuning settings";
        if (ModelJson.Serialize(cp.Model.Graph) != ModelJson.Serialize(pruned.Graph)) return "another pruned graph";
        if (masks is null) return null;
        foreach (var name in masks.Names)
        {
            var mask = masks.Of(name)!.Span;
            if (cp.Model.Find(name) is not { } p || p.Value.Length != mask.Length) return $"no parameter {name} of the masked shape";
            var saved = p.Value.Span;
            for (int i = 0; i < mask.Length; i++)
                if (mask[i] == 0 && saved[i] != 0) return $"{name} has weights this pruning masks";
        }
        return null;
    }
}
