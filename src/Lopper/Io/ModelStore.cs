using Lopper.Graph;
using Lopper.Tensors;

namespace Lopper.Io;

/// <summary>
/// A model on disk is a folder with model.json (the graph) and weights.safetensors (every parameter,
/// running statistics included). Loading needs nothing else: a pruned model is just a smaller graph.
/// </summary>
public static class ModelStore
{
    /// <summary>File name of the graph.</summary>
    public const string GraphFile = "model.json";
    /// <summary>File name of the weights.</summary>
    public const string WeightsFile = "weights.safetensors";

    /// <summary>Writes model.json and weights.safetensors into <paramref name="dir"/> (each atomically).</summary>
    public static void Save(Model model, string dir, IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteText(Path.Combine(dir, GraphFile), ModelJson.Serialize(model.Graph));
        SafeTensors.Save(Path.Combine(dir, WeightsFile), model.Parameters.Select(p => KeyValuePair.Create(p.Name, p.Value)), metadata);
    }

    /// <summary>Loads a model folder, checking every tensor against the graph and naming the first mismatch.</summary>
    public static Model Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new LopperInputException($"{dir}: model folder not found");
        var graph = ModelJson.Load(Path.Combine(dir, GraphFile));
        var model = new Model(graph);
        var weightsPath = Path.Combine(dir, WeightsFile);
        var (tensors, _) = SafeTensors.Load(weightsPath);
        LoadWeights(model, tensors, weightsPath);
        return model;
    }

    /// <summary>Copies tensors into a model's parameters; any missing, extra or mis-shaped tensor is an error naming it.</summary>
    public static void LoadWeights(Model model, IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        foreach (var p in model.Parameters)
        {
            if (!tensors.TryGetValue(p.Name, out var t))
                throw new LopperInputException($"{source}: tensor '{p.Name}' missing (weights from another architecture?)");
            if (!t.Shape.AsSpan().SequenceEqual(p.Spec.Shape))
                throw new LopperInputException($"{source}: tensor '{p.Name}' has shape {Tensor.Format(t.Shape)}, model.json needs {Tensor.Format(p.Spec.Shape)}");
        }
        foreach (var name in tensors.Keys)
            if (model.Find(name) is null) throw new LopperInputException($"{source}: tensor '{name}' is not in model.json (weights from another architecture?)");
        foreach (var p in model.Parameters) tensors[p.Name].Span.CopyTo(p.Value.Span);
    }
}
