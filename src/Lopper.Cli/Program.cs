using System.Reflection;
using Lopper;
using Lopper.Cli;
using Lopper.Cli.Commands;

return Cli.Run(args);

namespace Lopper.Cli
{
    /// <summary>Entry point: dispatches to a command and maps failures to exit codes (0 ok, 1 failed, 2 bad input).</summary>
    public static class Cli
    {
        private static readonly Dictionary<string, (string Help, Func<string[], int> Run)> Commands = new()
        {
            ["train"] = ("train a model on a dataset", TrainCommand.Run),
            ["eval"] = ("evaluate a saved model", EvalCommand.Run),
            ["inspect"] = ("per-layer parameters and MACs of a model", InspectCommand.Run),
            ["prune"] = ("prune a trained model, fine-tune it and measure the gain", PruneCommand.Run),
            ["finetune"] = ("continue training any saved model", FinetuneCommand.Run),
            ["import"] = ("ONNX classifier to a Lopper model folder", ImportCommand.Run),
            ["export"] = ("model folder to ONNX (opset 13, dynamic batch)", ExportCommand.Run),
            ["predict"] = ("class names and probabilities for image files", PredictCommand.Run),
            ["export-images"] = ("write a dataset out as an image folder (train/ and val/ class folders)", ExportImagesCommand.Run),
            ["onnx-check"] = ("compare a model folder in Lopper with an ONNX file in ONNX Runtime", OnnxCheckCommand.Run),
            ["latency"] = ("inference latency of a saved model (and its dense source)", LatencyCommand.Run),
            ["losspath"] = ("loss along the line or Bezier curve between two models of one graph", LossPathCommand.Run),
            ["bench"] = ("training/inference throughput of a zoo model, or GEMM GFLOP/s", BenchCommand.Run),
            ["experiment"] = ("run a grid of methods x budgets x seeds against one baseline (resumable)", ExperimentCommand.Run),
            ["report"] = ("HTML/Markdown report with SVG charts from experiment results", ReportCommand.Run),
            ["demo"] = ("train, prune, fine-tune, reload and inspect LeNet-5 on Fashion-MNIST", DemoCommand.Run),
        };

        /// <summary>Runs the CLI with the given arguments and returns the exit code.</summary>
        public static int Run(string[] args)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                Console.WriteLine("lopper: train and slim convolutional networks\n\nusage: lopper <command> [flags]\n");
                foreach (var (name, c) in Commands) Console.WriteLine($"  {name,-10} {c.Help}");
                Console.WriteLine("\nrun 'lopper <command> --help' for a command's flags");
                return args.Length == 0 ? 2 : 0;
            }
            if (args is ["--version"])
            {
                var info = typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
                Console.WriteLine($"lopper {info.Split('+')[0]} ({info})");
                return 0;
            }
            if (!Commands.TryGetValue(args[0], out var cmd))
            {
                Console.Error.WriteLine($"lopper: unknown command '{args[0]}' (known: {string.Join(", ", Commands.Keys)})");
                return 2;
            }
            // Callers that asked for --json parse stdout, so a failure is a JSON object there too (and one line on stderr).
            bool json = args.Contains("--json");
            int Fail(int code, string message)
            {
                message = message.ReplaceLineEndings(" ");
                Console.Error.WriteLine($"lopper {args[0]}: {message}");
                if (json) JsonOutput.PrintError(args[0], message, code);
                return code;
            }
            try
            {
                return cmd.Run(args[1..]);
            }
            catch (LopperInputException e)
            {
                // The library names options as its records do (TargetParams); here they are flags (--target-params).
                return Fail(2, Lopper.Methods.OptionInfo.Respell(e, name => "--" + name));
            }
            catch (Exception e) when (e is LopperRunException or IOException or UnauthorizedAccessException)
            {
                return Fail(1, e.Message);
            }
            catch (Exception e) when (Environment.GetEnvironmentVariable("LOPPER_DEBUG") is null)
            {
                // A bug, not the user's fault: one line, and the way to get the full trace.
                return Fail(1, $"internal error: {e.GetType().Name}: {e.Message} (set LOPPER_DEBUG=1 for the stack trace)");
            }
        }
    }
}
