using System.Text.Json;
using System.Text.Json.Nodes;
using Lopper.Methods;
using Lopper.Optim;

namespace Lopper.Training;

/// <summary>Everything that decides a training run's numbers. Saved with checkpoints so a resume uses the same.</summary>
public sealed record TrainConfig
{
    /// <summary>Total epochs.</summary>
    [Option("total epochs")]
    public int Epochs { get; init; } = 5;
    /// <summary>Mini-batch size.</summary>
    [Option("mini-batch size")]
    public int BatchSize { get; init; } = 128;
    /// <summary>"sgd", "adamw" or "grda".</summary>
    [Option("sgd, adamw or grda")]
    public string Optimizer { get; init; } = "sgd";
    /// <summary>Base learning rate.</summary>
    [Option("base learning rate")]
    public float Lr { get; init; } = 0.1f;
    /// <summary>SGD momentum.</summary>
    [Option("SGD momentum")]
    public float Momentum { get; init; } = 0.9f;
    /// <summary>Nesterov momentum.</summary>
    [Option("Nesterov momentum")]
    public bool Nesterov { get; init; }
    /// <summary>Weight decay (L2 for SGD, decoupled for AdamW).</summary>
    [Option("weight decay")]
    public float WeightDecay { get; init; } = 5e-4f;
    /// <summary>Learning-rate schedule.</summary>
    [Option("learning-rate schedule")]
    public ScheduleKind Schedule { get; init; } = ScheduleKind.Cosine;
    /// <summary>Linear warm-up length in epochs.</summary>
    [Option("linear warm-up epochs", Name = "warmup")]
    public double WarmupEpochs { get; init; }
    /// <summary>Step schedule milestones (epochs).</summary>
    [Option("step schedule milestones (epochs)")]
    public int[] Milestones { get; init; } = [];
    /// <summary>Step schedule factor.</summary>
    [Option("step schedule factor")]
    public float Gamma { get; init; } = 0.1f;
    /// <summary>gRDA threshold scale c (used when <see cref="Optimizer"/> is "grda").</summary>
    [Option("gRDA threshold scale c", Name = "grda-c")]
    public double GrdaC { get; init; } = 0.005;
    /// <summary>gRDA threshold growth exponent μ.</summary>
    [Option("gRDA threshold growth exponent mu", Name = "grda-mu")]
    public double GrdaMu { get; init; } = 0.55;
    /// <summary>Tensors gRDA soft-thresholds (the rest get plain SGD).</summary>
    [Option("tensors gRDA soft-thresholds", Name = "grda-cover")]
    public GrdaCoverage GrdaCover { get; init; } = GrdaCoverage.All;
    /// <summary>Whether gRDA soft-thresholds values one by one or whole channels together (so filters reach zero and compact away).</summary>
    [Option("none thresholds values one by one; channels thresholds each channel's filter, bias and batch-norm values together", Name = "grda-structure")]
    public GrdaStructure GrdaStructure { get; init; } = GrdaStructure.None;
    /// <summary>
    /// With <see cref="GrdaStructure"/> channels: the share of the MACs the trained model should keep once its dead
    /// channels are compacted away; the weakest channels are removed during training to reach it (<see cref="Grda.SteeredMacsKept"/>).
    /// Null: no target, the threshold is c and μ's alone.
    /// </summary>
    [Option("structured gRDA: remove the weakest channels during training so the compacted model keeps this share of the MACs (0-1]", Name = "grda-target-macs")]
    public double? GrdaTargetMacs { get; init; }
    /// <summary>
    /// With <see cref="GrdaStructure"/> none: the share of the model's trainable values left nonzero at the end of
    /// training; the elementwise threshold is steered to it (see <see cref="Grda.UseParamsTarget"/>) and
    /// <see cref="GrdaC"/> and <see cref="GrdaMu"/> are not used. Null: no target, the threshold is c and μ's.
    /// </summary>
    [Option("unstructured gRDA: steer the threshold so this share of the parameters is nonzero at the end (0-1]; c and mu are then not used", Name = "grda-target-params")]
    public double? GrdaTargetParams { get; init; }
    /// <summary>Label smoothing for the loss.</summary>
    [Option("label smoothing")]
    public float LabelSmoothing { get; init; }
    /// <summary>Seed for initialisation, shuffling, augmentation and dropout.</summary>
    [Option("seed")]
    public ulong Seed { get; init; }
    /// <summary>Random-crop padding (0 = no crop).</summary>
    public int CropPadding { get; init; }
    /// <summary>Random horizontal flips.</summary>
    public bool Flip { get; init; }
    /// <summary>
    /// Train on only the first this-many training images (0 = all). For quick comparisons on a 2-core machine:
    /// it travels with the config, so fine-tuning a pruned model and resuming use the same images.
    /// </summary>
    [Option("train on the first N training images (0 = all)")]
    public int TrainLimit { get; init; }

    /// <summary>
    /// Creates the optimizer this config asks for, set up for <paramref name="model"/>: structured gRDA forms its
    /// channel groups from the graph (and plans its MACs steering over <paramref name="totalSteps"/>).
    /// </summary>
    public Optimizer CreateOptimizer(Graph.Model model, long totalSteps)
    {
        var optimizer = CreateOptimizer();
        if (optimizer is Grda grda && GrdaStructure == GrdaStructure.Channels) grda.UseChannelGroups(model, GrdaTargetMacs, totalSteps);
        if (optimizer is Grda steered && GrdaTargetParams is double tp) steered.UseParamsTarget(model, tp, totalSteps);
        return optimizer;
    }

    /// <summary>Creates the optimizer this config asks for (not yet tied to a model).</summary>
    public Optimizer CreateOptimizer() => Optimizer switch
    {
        "sgd" => new Sgd(Momentum, WeightDecay, Nesterov),
        "adamw" => new AdamW(weightDecay: WeightDecay),
        // gRDA has no momentum and no weight decay by definition; Momentum and WeightDecay are ignored.
        "grda" => new Grda(GrdaC, GrdaMu, GrdaCover),
        _ => throw LopperInputException.ForOptions<TrainConfig>($"Optimizer must be sgd, adamw or grda, got '{Optimizer}'", nameof(Optimizer)),
    };

    /// <summary>The schedule over this config's epochs.</summary>
    public LrSchedule CreateSchedule() => new(Lr, Schedule, Epochs, WarmupEpochs, Milestones, Gamma);

    /// <summary>As JSON (for run.json and train_state.json).</summary>
    public JsonObject ToJson() => (JsonObject)JsonSerializer.SerializeToNode(this, Options)!;

    /// <summary>From JSON written by <see cref="ToJson"/>.</summary>
    public static TrainConfig FromJson(JsonNode node, string source)
    {
        try
        {
            var c = node.Deserialize<TrainConfig>(Options) ?? throw new LopperInputException($"{source}: empty training config");
            c.Validate(name => $"{source}: config field '{name}'");
            return c;
        }
        catch (JsonException e)
        {
            throw new LopperInputException($"{source}: bad training config: {e.Message}");
        }
    }

    /// <summary>
    /// The range checks of the command-line flags, applied to every config however it was made (flags, a saved
    /// train_state.json or run.json). <paramref name="name"/> turns a field name (snake_case) into the way the
    /// error should name it ("--lr", or "FILE: config field 'lr'"). Throws on the first bad value.
    /// </summary>
    public void Validate(Func<string, string> name)
    {
        void Fail(string field, string rule, object? got) => throw new LopperInputException($"{name(field)} must be {rule}, got {got}");
        if (Epochs < 1) Fail("epochs", "at least 1", Epochs);
        if (BatchSize < 1) Fail("batch_size", "at least 1", BatchSize);
        if (Optimizer is not ("sgd" or "adamw" or "grda")) Fail("optimizer", "sgd, adamw or grda", $"'{Optimizer}'");
        if (!float.IsFinite(Lr) || Lr < 0) Fail("lr", "a finite number >= 0 (as a 32-bit float)", Lr);
        if (!(Momentum >= 0 && Momentum <= 1)) Fail("momentum", "in [0, 1]", Momentum);
        if (!float.IsFinite(WeightDecay) || WeightDecay < 0) Fail("weight_decay", "a finite number >= 0", WeightDecay);
        if (!Enum.IsDefined(Schedule)) Fail("schedule", "cosine, step or constant", (int)Schedule);
        if (!double.IsFinite(WarmupEpochs) || WarmupEpochs < 0) Fail("warmup_epochs", "a finite number >= 0", WarmupEpochs);
        if (Milestones is null) Fail("milestones", "a list of epochs", "null");
        for (int i = 0; i < Milestones!.Length; i++)
        {
            if (Milestones[i] < 1) Fail("milestones", "positive epochs", string.Join(",", Milestones));
            if (i > 0 && Milestones[i] <= Milestones[i - 1]) Fail("milestones", "strictly ascending", string.Join(",", Milestones));
        }
        if (!float.IsFinite(Gamma) || Gamma < 0) Fail("gamma", "a finite number >= 0", Gamma);
        if (!double.IsFinite(GrdaC) || GrdaC < 0) Fail("grda_c", "a finite number >= 0", GrdaC);
        if (!double.IsFinite(GrdaMu) || GrdaMu <= 0) Fail("grda_mu", "a finite number > 0", GrdaMu);
        if (!Enum.IsDefined(GrdaCover)) Fail("grda_cover", "all or weights", (int)GrdaCover);
        if (!Enum.IsDefined(GrdaStructure)) Fail("grda_structure", "none or channels", (int)GrdaStructure);
        if (GrdaTargetMacs is double tm)
        {
            if (!(tm > 0 && tm <= 1)) Fail("grda_target_macs", "in (0, 1]", tm);
            if (GrdaStructure != GrdaStructure.Channels) Fail("grda_target_macs", $"given only with {name("grda_structure")} channels (it removes whole channels)", tm);
        }
        if (GrdaTargetParams is double tpar)
        {
            if (!(tpar > 0 && tpar <= 1)) Fail("grda_target_params", "in (0, 1]", tpar);
            if (GrdaStructure != GrdaStructure.None) Fail("grda_target_params", $"given only with {name("grda_structure")} none (it thresholds values one by one; {name("grda_target_macs")} steers channels)", tpar);
        }
        if (!(LabelSmoothing >= 0 && LabelSmoothing <= 1)) Fail("label_smoothing", "in [0, 1]", LabelSmoothing);
        if (CropPadding < 0 || CropPadding > 64) Fail("crop_padding", "in [0, 64]", CropPadding);
        if (TrainLimit < 0) Fail("train_limit", "at least 0", TrainLimit);
    }

    /// <summary>
    /// The defaults for a zoo model: LeNet-5 trains at learning rate 0.05 (0.1 diverges in its first epochs), every
    /// other model at 0.1.
    /// </summary>
    public static TrainConfig DefaultsFor(string model) => model == "lenet5" ? new TrainConfig { Lr = 0.05f } : new TrainConfig();

    /// <summary>How <see cref="Validate"/> names a field on the command line ("batch_size" becomes "--batch-size").</summary>
    public static string FlagName(string field) => "--" + field.Replace('_', '-') switch
    {
        "warmup-epochs" => "warmup",
        "crop-padding" => "augment",
        var f => f,
    };

    private static readonly JsonSerializerOptions Options = new()
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };
}
