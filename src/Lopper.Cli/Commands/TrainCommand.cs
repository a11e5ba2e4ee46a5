using System.CommandLine;
using System.Globalization;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Models;
using Lopper.Optim;
using Lopper.Pruning.ComplexityAware;
using Lopper.Training;
using Lopper.Runs;
using Lopper.Imaging;

namespace Lopper.Cli.Commands;

/// <summary>`lopper train`: trains a zoo model (or resumes a run) on a dataset, with checkpoints every epoch.</summary>
public static class TrainCommand
{
    private static readonly TrainConfig D = new();
    private static string Num(double v) => v.ToString(CultureInfo.InvariantCulture);
    private static string Num(float v) => v.ToString(CultureInfo.InvariantCulture);

    private static readonly Option<string?> Model = Flags.Text("--model", "NAME", "zoo model to train (required unless --from or --resume)", ModelZoo.Names);
    private static readonly Option<string?> Out = Flags.Text("--out", "DIR", "run folder for checkpoints, the model and run.json");
    private static readonly Option<int?> Epochs = Flags.OptionalInt("--epochs", $"total epochs (with --resume: the new total) [default: {D.Epochs}]", 1);
    private static readonly Option<string?> Dataset = Flags.Text("--dataset", "NAME", "fashion-mnist, mnist, cifar10, cifar100, imagefolder (DIR/train/<class>/*.png|jpg, DIR/val/...) " +
        "or npy (DIR or FILE.npz with x_train, y_train, x_val|x_test, y_val|y_test) [default: fashion-mnist]", DataCatalog.Names);
    private static readonly Option<string?> Data = Flags.Text("--data", "DIR", "dataset folder or file (default: the installed or embedded Fashion-MNIST)");
    private static readonly DataFlags DataOptions = new();
    private static readonly Option<bool> Augment = Flags.Switch("--augment", "random crop with 2-pixel padding + horizontal flips");
    private static readonly Option<bool> RandomResizedCrop = Flags.Switch("--random-resized-crop", "training: random area 8-100%, aspect 3/4-4/3, back to HxW");
    private static readonly Option<float[]?> Mean = Flags.Floats("--mean", "per-channel mean in 0..1 pixel units, e.g. 0.5,0.5,0.5 (default: the training split's statistics)");
    private static readonly Option<float[]?> Std = Flags.Floats("--std", "per-channel standard deviation, e.g. 0.25,0.25,0.25 (with --mean)");
    private static readonly Option<string?> From = Flags.Text("--from", "DIR", "start from this trained model (transfer)");
    private static readonly Option<string?> ResetHead = Flags.Text("--reset-head", "N|data", "with --from: a new seeded classifier for N classes (or the data's count)");
    private static readonly Option<string?> FreezeUntil = Flags.Text("--freeze-until", "NODE", "no updates for nodes up to and including NODE");
    private static readonly Option<string> Optimizer = Flags.Choice("--optimizer", "optimizer (grda: no momentum or weight decay; sparsity per epoch; compacted copy in OUT/compacted)", "sgd", "adamw", "grda");
    private static readonly Option<float?> Lr = Flags.Single("--lr", $"base learning rate [default: 0.05 for lenet5, else {Num(D.Lr)}]", 0);
    private static readonly Option<float?> Momentum = Flags.Single("--momentum", $"SGD momentum [default: {Num(D.Momentum)}]", 0, 1);
    private static readonly Option<bool> Nesterov = Flags.Switch("--nesterov", "Nesterov momentum");
    private static readonly Option<float?> WeightDecay = Flags.Single("--weight-decay", $"weight decay (L2 for SGD, decoupled for AdamW) [default: {Num(D.WeightDecay)}]", 0);
    private static readonly Option<double> GrdaC = Flags.Real("--grda-c", "gRDA threshold scale c", D.GrdaC, 0);
    private static readonly Option<double> GrdaMu = Flags.Real("--grda-mu", "gRDA threshold growth exponent mu", D.GrdaMu, 0);
    private static readonly Option<string> GrdaCover = Flags.Choice("--grda-cover", "tensors gRDA soft-thresholds", "all", "weights");
    private static readonly Option<string> GrdaStructure = Flags.Choice("--grda-structure",
        "channels: each channel's filter, bias and batch-norm values are soft-thresholded as one group, so whole channels reach zero and compact away", "none", "channels");
    private static readonly Option<double?> GrdaTargetMacs = Flags.OptionalReal("--grda-target-macs",
        "with --grda-structure channels: remove the weakest channels during training so the compacted model keeps this share of the MACs, e.g. 0.5", 0, 1);
    private static readonly Option<double?> GrdaTargetParams = Flags.OptionalReal("--grda-target-params",
        "with --grda-structure none: steer the threshold so this share of the parameters is nonzero at the end, e.g. 0.5 (replaces --grda-c and --grda-mu)", 0, 1);
    private static readonly Option<string> Schedule = Flags.Choice("--schedule", "learning-rate schedule", "cosine", "step", "constant");
    private static readonly Option<double> Warmup = Flags.Real("--warmup", "linear warm-up epochs", 0, 0);
    private static readonly Option<int[]?> Milestones = Flags.Ints("--milestones", "N,N,...", "step schedule milestones (epochs), e.g. 10,15");
    private static readonly Option<float?> Gamma = Flags.Single("--gamma", $"step schedule factor [default: {Num(D.Gamma)}]", 0);
    private static readonly Option<int> BatchSize = Flags.Int("--batch-size", "mini-batch size", D.BatchSize, 1);
    private static readonly Option<float?> LabelSmoothing = Flags.Single("--label-smoothing", "label smoothing [default: 0]", 0, 1);
    private static readonly Option<int> TrainLimit = Flags.Int("--train-limit", "train on the first N training images only (0 = all; kept for prune/finetune/resume)", 0, 0);
    private static readonly Option<int> Seed = Flags.Int("--seed", "seed of initialisation, shuffling and augmentation", 0, 0);
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<string?> Resume = Flags.Text("--resume", "DIR", "continue an interrupted run in DIR (with its saved settings; --epochs sets a new total)");
    private static readonly Option<string?> Method = Flags.Text("--method", "complexity-aware", "train with Bernoulli gates on units and residual blocks, pruned while training", ["complexity-aware"]);
    private static readonly MethodFlags GateFlags = new(Lopper.Methods.OptionInfo.For(typeof(ComplexityAwareOptions)));
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("train", "train a model on a dataset (or resume a run), with checkpoints every epoch");
        foreach (var o in (Option[])
        [
            Model, Out, Epochs, Dataset, Data, .. DataOptions.Symbols, Augment, RandomResizedCrop, Mean, Std, From, ResetHead, FreezeUntil,
            Optimizer, Lr, Momentum, Nesterov, WeightDecay, GrdaC, GrdaMu, GrdaCover, GrdaStructure, GrdaTargetMacs, GrdaTargetParams, Schedule, Warmup, Milestones, Gamma,
            BatchSize, LabelSmoothing, TrainLimit, Seed, Threads, Resume, Json, Method, .. GateFlags.Symbols,
        ]) c.Options.Add(o);
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        bool json = p.GetValue(Json);
        CommonOptions.ApplyThreads(p, Threads);
        string command = CommonOptions.CommandLine(p);
        TrainResult result;
        if (p.GetValue(Resume) is string resume)
        {
            if (p.Given(Method) || GateFlags.AnyGiven(p))
                throw new LopperInputException($"--resume {resume}: --method and its flags come from the saved run; drop them");
            if (p.GetValue(Out) is string o && o != resume) throw new LopperInputException($"--resume {resume} continues in its own folder; drop --out");
            // Everything else comes from the saved run; a flag that would be ignored is an error.
            var ignored = ParseErrors.Known(p.CommandResult).FirstOrDefault(f => p.Given(f) && f != Resume && f != Epochs && f != Threads && f != Json && f != Out);
            if (ignored is not null) throw new LopperInputException($"--resume {resume} continues with the saved run's settings; drop {ignored.Name}");
            result = TrainPipeline.Resume(resume, p.GetValue(Epochs), ConsoleCallbacks.Create(), SkiaImageDecoder.Instance);
        }
        else
        {
            var config = ReadConfig(p);
            var data = new DataSpec
            {
                Dataset = p.GetValue(Dataset) ?? "fashion-mnist", Dir = p.GetValue(Data),
                Options = DataOptions.Read(p, config.Seed) with { RandomResizedCrop = p.GetValue(RandomResizedCrop) },
            };
            string? method = p.GetValue(Method);
            if (method is not null && method != "complexity-aware") throw new LopperInputException($"--method must be complexity-aware, got '{method}'");
            if (method is null && GateFlags.AnyGiven(p)) throw new LopperInputException($"{string.Join(", ", GateFlags.Names.Take(3))} and the other gate flags need --method complexity-aware");
            ComplexityAwareOptions? gates = null;
            if (method is not null)
            {
                if (config.Optimizer == "grda") throw new LopperInputException("--method complexity-aware cannot be combined with --optimizer grda");
                gates = Lopper.Methods.OptionBinder.Bind<ComplexityAwareOptions>(GateFlags.Read(p), "train --method complexity-aware").Validate();
            }
            var (mean, std) = DataFlags.Normalisation(p.ValueOrNull(Mean), p.ValueOrNull(Std), -1);
            string? from = p.GetValue(From);
            string? reset = p.GetValue(ResetHead);
            if (from is null && reset is not null) throw new LopperInputException("--reset-head needs --from DIR (the model whose classifier it replaces)");
            if (from is not null && p.Given(Model)) throw new LopperInputException("--from DIR brings its own model; drop --model");
            string? model = p.GetValue(Model);
            if (from is null && model is null) throw new LopperInputException("--model is required (or --from DIR, or --resume DIR)");
            // Transfer: the data decides the head, so the splits are read here and handed on.
            Model? start = null;
            RunFolder? startFolder = null;
            DataSplits? splits = null;
            if (from is not null)
            {
                splits = data.Load(s => Console.Error.WriteLine(s));
                (start, startFolder) = TransferFlags.Load(from, reset, splits.Train, config.Seed);
            }
            var request = new TrainRequest
            {
                ModelName = start is null ? model : null,
                Start = start,
                StartFolder = startFolder,
                Data = data,
                Splits = splits,
                Config = config,
                Gates = gates,
                Normalisation = mean is null ? null : (mean, std!),
                FreezeUntil = p.GetValue(FreezeUntil),
                OutDir = p.GetValue(Out),
                Command = command,
            };
            result = TrainPipeline.Run(request, ConsoleCallbacks.Create());
        }
        if (json) JsonOutput.Print(result.ToJson());
        else
        {
            if (result.Grda is { } g)
                Console.WriteLine($"grda: sparsity {g.Sparsity * 100:F2}%; compacted keeps {g.ParamsKept * 100:F1}% of params and {g.MacsKept * 100:F1}% of MACs, " +
                    $"{g.CompactedUnstructuredSparsity * 100:F2}% of its values still zero" + (g.Compacted is null ? "" : $"; saved to {g.Compacted}"));
            Console.WriteLine($"done: test accuracy {result.TestAccuracy * 100:F2}% after {result.Epochs} epochs in {ProgressBar.FormatSeconds(result.Seconds)}" + (result.OutDir is null ? "" : $"; saved to {p.GetValue(Out) ?? p.GetValue(Resume)}"));
        }
        return 0;
    }

    private static TrainConfig ReadConfig(ParseResult p)
    {
        string model = p.GetValue(Model) ?? TransferFlags.ModelName(p.GetValue(From));
        bool augment = p.GetValue(Augment);
        string optimizer = p.GetValue(Optimizer)!;
        bool grda = optimizer == "grda";
        if (grda)
        {
            // The method and its theory assume plain stochastic gradients; silently dropping these would mislead.
            if (p.GetValue(Momentum) is > 0 || p.GetValue(Nesterov) || p.GetValue(WeightDecay) is > 0)
                throw new LopperInputException("--optimizer grda uses no momentum and no weight decay; drop --momentum, --nesterov and --weight-decay (or set them to 0)");
        }
        else if (p.Given(GrdaC) || p.Given(GrdaMu) || p.Given(GrdaCover) || p.Given(GrdaStructure) || p.Given(GrdaTargetMacs) || p.Given(GrdaTargetParams))
        {
            throw new LopperInputException("--grda-c, --grda-mu, --grda-cover, --grda-structure, --grda-target-macs and --grda-target-params need --optimizer grda");
        }
        // The steered threshold replaces c and mu's schedule: a value given for them would be ignored.
        if (p.Given(GrdaTargetParams) && (p.Given(GrdaC) || p.Given(GrdaMu)))
            throw new LopperInputException("--grda-target-params sets the threshold itself: drop --grda-c and --grda-mu");
        var config = new TrainConfig
        {
            Epochs = p.GetValue(Epochs) ?? D.Epochs,
            BatchSize = p.GetValue(BatchSize),
            Optimizer = optimizer,
            Lr = p.GetValue(Lr) ?? TrainConfig.DefaultsFor(model).Lr,
            Momentum = grda ? 0f : p.GetValue(Momentum) ?? D.Momentum,
            Nesterov = p.GetValue(Nesterov),
            WeightDecay = grda ? 0f : p.GetValue(WeightDecay) ?? D.WeightDecay,
            GrdaC = p.GetValue(GrdaC),
            GrdaMu = p.GetValue(GrdaMu),
            GrdaCover = p.GetValue(GrdaCover) == "weights" ? GrdaCoverage.Weights : GrdaCoverage.All,
            GrdaStructure = p.GetValue(GrdaStructure) == "channels" ? Lopper.Optim.GrdaStructure.Channels : Lopper.Optim.GrdaStructure.None,
            GrdaTargetMacs = p.GetValue(GrdaTargetMacs),
            GrdaTargetParams = p.GetValue(GrdaTargetParams),
            Schedule = LrSchedule.ParseKind(p.GetValue(Schedule)!),
            WarmupEpochs = p.GetValue(Warmup),
            Milestones = p.ValueOrNull(Milestones) ?? [],
            Gamma = p.GetValue(Gamma) ?? D.Gamma,
            LabelSmoothing = p.GetValue(LabelSmoothing) ?? 0f,
            Seed = (ulong)p.GetValue(Seed),
            CropPadding = augment ? 2 : 0,
            Flip = augment,
            TrainLimit = p.GetValue(TrainLimit),
        };
        config.Validate(TrainConfig.FlagName);
        return config;
    }
}
