using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Training;

namespace Lopper.Runs;

/// <summary>
/// Every figure of a prune run: accuracy before, right after pruning and after fine-tuning, parameters, MACs and
/// latency before and after, timings, and where and how it ran. Written as the run folder's run.json (docs/run-folder.md).
/// </summary>
public sealed record PruneRecord
{
    /// <summary>Seed, versions, threads and machine (<see cref="Io.RunInfo.Environment"/>).</summary>
    public required JsonObject Environment { get; init; }
    /// <summary>How the run was asked for, or null.</summary>
    public string? Command { get; init; }
    /// <summary>The method's name.</summary>
    public required string Method { get; init; }
    /// <summary>Full path of the source folder.</summary>
    public required string Source { get; init; }
    /// <summary>The model's graph name.</summary>
    public required string Model { get; init; }
    /// <summary>The data used, or null when none was (data-free pruning).</summary>
    public DataSpec? Data { get; init; }
    /// <summary>Where the data came from (a folder, or the embedded subset), or null.</summary>
    public string? DataSource { get; init; }
    /// <summary>The fine-tuning (and in-method training) config.</summary>
    public required TrainConfig Config { get; init; }
    /// <summary>Test accuracy of the source model (null without data).</summary>
    public double? AccuracyBefore { get; init; }
    /// <summary>Test accuracy right after pruning (and batch-norm re-estimation, when asked).</summary>
    public double? AccuracyPruned { get; init; }
    /// <summary>Test accuracy after fine-tuning; the pruned accuracy when no fine-tuning ran.</summary>
    public double? AccuracyFinetuned { get; init; }
    /// <summary>Training batches batch-norm statistics were re-estimated on (0: not done).</summary>
    public int BnRecalibrateBatches { get; init; }
    /// <summary>Parameters before.</summary>
    public long ParamsBefore { get; init; }
    /// <summary>Parameters after (masked ones count as gone).</summary>
    public long ParamsAfter { get; init; }
    /// <summary>MACs of one image before.</summary>
    public long MacsBefore { get; init; }
    /// <summary>MACs of one image after.</summary>
    public long MacsAfter { get; init; }
    /// <summary>Batch of the latency figures.</summary>
    public int LatencyBatch { get; init; }
    /// <summary>Median latency of the source model, ms per batch.</summary>
    public double LatencyMsBefore { get; init; }
    /// <summary>Median latency of the pruned model, ms per batch.</summary>
    public double LatencyMsAfter { get; init; }
    /// <summary>Interquartile range of the source latency.</summary>
    public double LatencyIqrMsBefore { get; init; }
    /// <summary>Interquartile range of the pruned latency.</summary>
    public double LatencyIqrMsAfter { get; init; }
    /// <summary>Fine-tuning epochs run.</summary>
    public int FinetuneEpochs { get; init; }
    /// <summary>Seconds per phase: measure, prune, finetune, total.</summary>
    public required IReadOnlyDictionary<string, double> Seconds { get; init; }
    /// <summary>Method-specific figures.</summary>
    public required JsonObject Details { get; init; }
    /// <summary>Fine-tuning epochs' records.</summary>
    public required JsonArray History { get; init; }

    /// <summary>Fraction of parameters kept.</summary>
    public double ParamsKept => ParamsBefore == 0 ? 0 : (double)ParamsAfter / ParamsBefore;
    /// <summary>Fraction of MACs kept.</summary>
    public double MacsKept => MacsBefore == 0 ? 0 : (double)MacsAfter / MacsBefore;
    /// <summary>Measured latency speed-up (before / after).</summary>
    public double SpeedUp => LatencyMsAfter == 0 ? 0 : LatencyMsBefore / LatencyMsAfter;

    /// <summary>The run.json form (field names as documented; history and details included).</summary>
    public JsonObject ToJson()
    {
        var o = (JsonObject)Environment.DeepClone();
        if (Command is not null) o["command"] = Command;
        o["method"] = Method;
        o["source"] = Source;
        o["model"] = Model;
        o["dataset"] = Data?.Dataset;
        if (Data?.Dir is string dir) o["data_dir"] = dir;
        o["data_source"] = DataSource;
        o["data_options"] = DataSpec.OptionsToJson(Data?.Options ?? new DataOptions());
        o["config"] = Config.ToJson();
        o["accuracy_before"] = AccuracyBefore;
        o["accuracy_pruned"] = AccuracyPruned;
        o["bn_recalibrate_batches"] = BnRecalibrateBatches;
        o["accuracy_finetuned"] = AccuracyFinetuned;
        o["params_before"] = ParamsBefore;
        o["params_after"] = ParamsAfter;
        o["macs_before"] = MacsBefore;
        o["macs_after"] = MacsAfter;
        o["latency_batch"] = LatencyBatch;
        o["latency_ms_before"] = LatencyMsBefore;
        o["latency_ms_after"] = LatencyMsAfter;
        o["latency_iqr_ms_before"] = LatencyIqrMsBefore;
        o["latency_iqr_ms_after"] = LatencyIqrMsAfter;
        o["finetune_epochs"] = FinetuneEpochs;
        var seconds = new JsonObject();
        foreach (var (k, v) in Seconds) seconds[k] = v;
        o["seconds"] = seconds;
        o["details"] = Details.DeepClone();
        o["history"] = History.DeepClone();
        return o;
    }
}
