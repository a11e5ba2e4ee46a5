using System.Diagnostics;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Graph;
using Lopper.Io;
using Lopper.Models;
using Lopper.Optim;
using Lopper.Pruning.ComplexityAware;
using Lopper.Pruning.Directional;
using Lopper.Structure;
using Lopper.Training;
using Lopper.Runs;
using Lopper.Imaging;

namespace Lopper.Cli.Commands;

/// <summary>`lopper train`: trains a zoo model (or resumes a run) on a dataset, with checkpoints every epoch.</summary>
public static class TrainCommand
{
    private const string Usage = """
        lopper train --model NAME [--out DIR] [--epochs N] [--json]
          data:     --dataset fashion-mnist|mnist|cifar10|cifar100 (default fashion-mnist) --data DIR
                    --augment (random crop with 2-pixel padding + horizontal flips)
                    --dataset imagefolder --data DIR (DIR/train/<class>/*.png|jpg, DIR/val/<class>/...)
                    --dataset npy --data DIR|FILE.npz (x_train, y_train, x_val|x_test, y_val|y_test)
                    --resize N (shorter side) --crop N (centre) --val-split F (hold out F of each class, seeded)
                    --random-resized-crop (training: random area 8-100%, aspect 3/4-4/3, back to HxW)
                    --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 (default: the training split's statistics)
          transfer: --from DIR (start from a trained model) --reset-head N|data (new seeded classifier)
                    --freeze-until NODE (no updates for nodes up to and including NODE)
          optim:    --optimizer sgd|adamw|grda --lr F --momentum F --nesterov --weight-decay F
                    --grda-c F (default 0.005) --grda-mu F (default 0.55) --grda-cover all|weights
                    --grda-structure none|channels (channels: each channel's filter, bias and batch-norm values
                    are soft-thresholded as one group, so whole channels reach zero and compact away)
                    (grda: no momentum or weight decay; sparsity per epoch; compacted copy in OUT/compacted)
                    --schedule cosine|step|constant --warmup EPOCHS --milestones 10,15 --gamma F
                    --batch-size N --label-smoothing F
                    --train-limit N (train on the first N training images only; kept for prune/finetune/resume)
          run:      --seed N --threads N --resume DIR (continue an interrupted run in DIR)
          method:   --method complexity-aware (Bernoulli gates on units and residual blocks, pruned while training)
                    --strength S (default 1; 0 = no pruning pressure)  --flops-vs-params P (0..1, default 0.5)
                    --layers-vs-units B (0..1, default 0.5; above 0.5 removes whole blocks more readily)
                    --gate-lr F (default 10)  --check-every N (default 25)  --zero-checks K (default 3)
                    --gate-warmup EPOCHS (default 0.25)  --settle-epochs N (last N epochs without gates; default 1)
                    --no-gate-downsampling
        """;

    /// <summary>The complexity-aware options as train flags.</summary>
    private static IReadOnlyList<Lopper.Methods.OptionInfo> GateOptions => Lopper.Methods.OptionInfo.For(typeof(ComplexityAwareOptions));

    /// <summary>Runs the command.</summary>
    public static int Run(string[] raw)
    {
        var a = new Args(raw, new HashSet<string>(["json", "help", "nesterov", "augment", "random-resized-crop", .. MethodFlags.Switches(GateOptions)]));
        if (a.Flag("help")) { Console.WriteLine(Usage); return 0; }
        bool json = a.Flag("json");
        CommonOptions.ApplyThreads(a);
        string command = "lopper train " + string.Join(' ', raw);
        TrainResult result;
        if (a.Str("resume") is string resume)
        {
            if (a.Has("method") || MethodFlags.AnyGiven(a, GateOptions))
                throw new LopperInputException($"--resume {resume}: --method and its flags come from the saved run; drop them");
            if (a.Has("out") && a.Str("out") != resume) throw new LopperInputException($"--resume {resume} continues in its own folder; drop --out");
            int? epochs = a.Has("epochs") ? a.Int("epochs", 1, 1) : null;
            a.EnsureAllUsed();
            result = TrainPipeline.Resume(resume, epochs, ConsoleCallbacks.Create(), SkiaImageDecoder.Instance);
        }
        else
        {
            var config = ReadConfig(a);
            var data = new DataSpec { Dataset = a.Str("dataset", "fashion-mnist"), Dir = a.Str("data"), Options = DataFlags.Read(a, config.Seed) with { RandomResizedCrop = a.Flag("random-resized-crop") } };
            string? method = a.Str("method");
            if (method is not null && method != "complexity-aware") throw new LopperInputException($"--method must be complexity-aware, got '{method}'");
            if (method is null && MethodFlags.AnyGiven(a, GateOptions)) throw new LopperInputException("--strength, --flops-vs-params, --layers-vs-units and the other gate flags need --method complexity-aware");
            ComplexityAwareOptions? gates = null;
            if (method is not null)
            {
                if (config.Optimizer == "grda") throw new LopperInputException("--method complexity-aware cannot be combined with --optimizer grda");
                gates = Lopper.Methods.OptionBinder.Bind<ComplexityAwareOptions>(MethodFlags.Read(a, GateOptions), "train --method complexity-aware").Validate();
            }
            // Transfer: the data decides the head, so the splits are read here and handed on.
            string? from = a.Str("from");
            Model? start = null;
            RunFolder? startFolder = null;
            Lopper.Data.DataSplits? splits = null;
            if (from is not null || a.Has("reset-head"))
            {
                splits = data.Load(s => Console.Error.WriteLine(s));
                (start, startFolder) = TransferFlags.Load(a, splits.Train, config.Seed);
            }
            var (mean, std) = DataFlags.ReadNormalisation(a, -1);
            var request = new TrainRequest
            {
                ModelName = start is null ? a.Required("model") : null,
                Start = start,
                StartFolder = startFolder,
                Data = data,
                Splits = splits,
                Config = config,
                Gates = gates,
                Normalisation = mean is null ? null : (mean, std!),
                FreezeUntil = a.Str("freeze-until"),
                OutDir = a.Str("out"),
                Command = command,
            };
            a.EnsureAllUsed();
            result = TrainPipeline.Run(request, ConsoleCallbacks.Create());
        }
        if (json) JsonOutput.Print(result.ToJson());
        else
        {
            if (result.Grda is { } g)
                Console.WriteLine($"grda: sparsity {g.Sparsity * 100:F2}%; compacted keeps {g.ParamsKept * 100:F1}% of params and {g.MacsKept * 100:F1}% of MACs, " +
                    $"{g.CompactedUnstructuredSparsity * 100:F2}% of its values still zero" + (g.Compacted is null ? "" : $"; saved to {g.Compacted}"));
            Console.WriteLine($"done: test accuracy {result.TestAccuracy * 100:F2}% after {result.Epochs} epochs in {ProgressBar.FormatSeconds(result.Seconds)}" + (result.OutDir is null ? "" : $"; saved to {a.Str("out") ?? a.Str("resume")}"));
        }
        return 0;
    }

    private static TrainConfig ReadConfig(Args a)
    {
        var d = new TrainConfig();
        string model = a.Str("model") ?? TransferFlags.ModelName(a.Str("from"));
        bool augment = a.Flag("augment");
        string optimizer = a.Str("optimizer", d.Optimizer);
        bool grda = optimizer == "grda";
        if (grda)
        {
            // The method and its theory assume plain stochastic gradients; silently dropping these would mislead.
            if (a.Real("momentum", 0, 0, 1) != 0 || a.Flag("nesterov") || a.Real("weight-decay", 0, 0) != 0)
                throw new LopperInputException("--optimizer grda uses no momentum and no weight decay; drop --momentum, --nesterov and --weight-decay (or set them to 0)");
        }
        else if (a.Has("grda-c") || a.Has("grda-mu") || a.Has("grda-cover") || a.Has("grda-structure"))
        {
            throw new LopperInputException("--grda-c, --grda-mu, --grda-cover and --grda-structure need --optimizer grda");
        }
        var config = new TrainConfig
        {
            Epochs = a.Int("epochs", d.Epochs, 1),
            BatchSize = a.Int("batch-size", d.BatchSize, 1),
            Optimizer = optimizer,
            Lr = a.Single("lr", model == "lenet5" ? 0.05 : d.Lr, 0),
            Momentum = grda ? 0f : a.Single("momentum", d.Momentum, 0, 1),
            Nesterov = a.Flag("nesterov"),
            WeightDecay = grda ? 0f : a.Single("weight-decay", d.WeightDecay, 0),
            GrdaC = a.Real("grda-c", d.GrdaC, 0),
            GrdaMu = a.Real("grda-mu", d.GrdaMu, 0),
            GrdaCover = a.Str("grda-cover", "all") switch
            {
                "all" => GrdaCoverage.All,
                "weights" => GrdaCoverage.Weights,
                var v => throw new LopperInputException($"--grda-cover must be all or weights, got '{v}'"),
            },
            GrdaStructure = a.Str("grda-structure", "none") switch
            {
                "none" => GrdaStructure.None,
                "channels" => GrdaStructure.Channels,
                var v => throw new LopperInputException($"--grda-structure must be none or channels, got '{v}'"),
            },
            Schedule = LrSchedule.ParseKind(a.Str("schedule", "cosine")),
            WarmupEpochs = a.Real("warmup", 0, 0),
            Milestones = a.Ints("milestones", []),
            Gamma = a.Single("gamma", 0.1, 0),
            LabelSmoothing = a.Single("label-smoothing", 0, 0, 1),
            Seed = (ulong)a.Int("seed", 0, 0),
            CropPadding = augment ? 2 : 0,
            Flip = augment,
            TrainLimit = a.Int("train-limit", 0, 0),
        };
        config.Validate(TrainConfig.FlagName);
        return config;
    }
}
