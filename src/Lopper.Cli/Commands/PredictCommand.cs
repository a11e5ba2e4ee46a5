using System.CommandLine;
using System.Text.Json.Nodes;
using Lopper.Data;
using Lopper.Data.Images;
using Lopper.Graph;
using Lopper.Imaging;
using Lopper.Io;
using Lopper.Training;

namespace Lopper.Cli.Commands;

/// <summary>`lopper predict --from DIR IMAGES...`: class names and probabilities per image file, preprocessed as the model was trained.</summary>
public static class PredictCommand
{
    private static readonly Argument<string[]> Images = new("IMAGE") { Description = "PNG or JPEG files", Arity = ArgumentArity.ZeroOrMore };
    private static readonly Option<string> From = Flags.Required("--from", "DIR", "the model folder (its preprocessing.json says how images are prepared)");
    private static readonly Option<int> Top = Flags.Int("--top", "classes to print per image", 5, 1, valueName: "K");
    private static readonly Option<int?> Threads = Flags.Threads();
    private static readonly Option<bool> Json = Flags.Json();

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var c = new Command("predict", "class names and probabilities for image files") { Images, From, Top, Threads, Json };
        c.SetAction(Run);
        return c;
    }

    private static int Run(ParseResult p)
    {
        string from = p.GetValue(From)!;
        int top = p.GetValue(Top);
        bool json = p.GetValue(Json);
        CommonOptions.ApplyThreads(p, Threads);
        var paths = p.GetValue(Images) ?? [];
        if (paths.Length == 0) throw new LopperInputException("no images given (lopper predict --from DIR IMAGE [IMAGE...])");
        var model = ModelStore.Load(from);
        var pre = Preprocessing.TryLoad(from) ?? Fallback(from, model);
        if (pre.ClassNames.Length != model.Graph.Classes)
            throw new LopperInputException($"{Path.Combine(from, Preprocessing.FileName)}: names {pre.ClassNames.Length} classes, the model has {model.Graph.Classes}");
        if (!pre.InputShape.AsSpan().SequenceEqual(model.Graph.InputShape))
            throw new LopperInputException($"{Path.Combine(from, Preprocessing.FileName)}: input_shape {string.Join("x", pre.InputShape)} does not match the model's {string.Join("x", model.Graph.InputShape)}");
        var decoder = SkiaImageDecoder.Instance;
        var images = paths.Select(p => (p, decoder.Decode(p))).ToList();
        var batch = pre.ToBatch(images, decoder);
        var probs = Predictor.Probabilities(model, batch);
        int k = Math.Min(top, pre.ClassNames.Length), classes = pre.ClassNames.Length;
        var results = new JsonArray();
        for (int i = 0; i < images.Count; i++)
        {
            var row = probs[(i * classes)..((i + 1) * classes)];
            var order = Enumerable.Range(0, classes).OrderByDescending(c => row[c]).ThenBy(c => c).Take(k).ToArray();
            var list = new JsonArray(order.Select(c => (JsonNode)new JsonObject { ["class"] = pre.ClassNames[c], ["index"] = c, ["probability"] = row[c] }).ToArray());
            results.Add(new JsonObject { ["image"] = images[i].p, ["top"] = list });
            if (!json)
                Console.WriteLine($"{images[i].p}: " + string.Join(", ", order.Select(c => $"{pre.ClassNames[c]} {row[c] * 100:F1}%")));
        }
        if (json) Console.WriteLine(new JsonObject { ["model"] = model.Graph.Name, ["from"] = Path.GetFullPath(from), ["predictions"] = results }.ToJsonString(new() { WriteIndented = true }));
        return 0;
    }

    /// <summary>A folder from before preprocessing.json: normalise as its training did (the training split's statistics).</summary>
    private static Preprocessing Fallback(string from, Model model)
    {
        var source = Lopper.Runs.RunFolder.Load(from, Lopper.Imaging.SkiaImageDecoder.Instance);
        var (train, _) = DataFlags.Load(source, source.Data);
        return source.DerivedPreprocessing(train, source.Data)!;
    }
}
