using Lopper.Graph;
using Lopper.Graph.Ops;
using Lopper.Io;
using Lopper.Onnx.Proto;
using Lopper.Tensors;

namespace Lopper.Onnx.Import;

/// <summary>An imported model and what the ONNX file said about its input.</summary>
/// <param name="Model">The Lopper model, weights loaded.</param>
/// <param name="Opset">Opset of the default ONNX domain the file used.</param>
/// <param name="StaticBatch">The batch size the file fixed for its input, or null when dynamic.</param>
/// <param name="Producer">The exporter that wrote the file ("pytorch 2.x").</param>
public sealed record ImportResult(Model Model, long Opset, long? StaticBatch, string Producer);

/// <summary>
/// ONNX to Lopper: walks the nodes in file order (ONNX requires topological order; a node reading a
/// value not yet produced means a cyclic or unsorted graph and fails), hands each to its importer from
/// <see cref="OnnxImportRegistry"/>, drops nodes the output does not depend on, and builds the graph and
/// weights. Nothing is approximated: a node Lopper cannot represent exactly fails naming itself.
/// </summary>
public static class OnnxImporter
{
    /// <summary>Oldest and newest default-domain opsets accepted (the op semantics read here are stable across them).</summary>
    public const long MinOpset = 7, MaxOpset = 22;

    /// <summary>Most weight values an imported model may have in all.</summary>
    public const long MaxTotalElements = 1L << 30;

    /// <summary>Imports <paramref name="onnx"/>; <paramref name="source"/> names it in errors, <paramref name="inputShape"/> (C, H, W) overrides the file's.</summary>
    public static ImportResult Import(ModelProto onnx, string source, string name, int[]? inputShape = null)
    {
        try
        {
            return Run(onnx, source, name, inputShape);
        }
        catch (LopperInputException e) when (!e.Message.StartsWith(source, StringComparison.Ordinal))
        {
            throw new LopperInputException($"{source}: {e.Message}", e);
        }
    }

    private static ImportResult Run(ModelProto onnx, string source, string name, int[]? inputShape)
    {
        var g = onnx.Graph;
        long opset = Opset(onnx);
        var readers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var n in g.Node)
            foreach (var i in n.Input)
                if (i.Length > 0) readers[i] = readers.GetValueOrDefault(i) + 1;
        foreach (var o in g.Output) readers[o.Name] = readers.GetValueOrDefault(o.Name) + 1;

        var initNames = new HashSet<string>(g.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        var inputs = g.Input.Where(v => !initNames.Contains(v.Name)).ToList();
        if (inputs.Count != 1) throw new LopperInputException($"the graph has {inputs.Count} non-constant inputs ({string.Join(", ", inputs.Select(v => v.Name))}); Lopper imports single-input image classifiers");
        var (shape, batch) = InputShape(inputs[0], inputShape);
        var ctx = new ImportContext(readers, batch) { Opset = opset };
        ctx.Bind(inputs[0].Name, ImportValue.Graph("input", [1, .. shape]));
        // Every initializer's bytes are in the file, but typed float_data can still claim more than is sane:
        // the dims of all of them together are checked before any is decoded.
        long total = 0;
        foreach (var t in g.Initializer)
        {
            total += OnnxTensors.Count(t.Dims, $"initializer '{t.Name}'");
            if (total > MaxTotalElements) throw new LopperInputException($"initializers hold over {MaxTotalElements} values in all; Lopper imports models up to 4 GiB of float32 weights");
        }
        foreach (var t in g.Initializer)
        {
            string what = $"initializer '{t.Name}'";
            ctx.Bind(t.Name, t.DataType == (int)TensorProto.Types.DataType.Float ? ImportValue.Constant(OnnxTensors.Float(t, what))
                : t.DataType is (int)TensorProto.Types.DataType.Int64 or (int)TensorProto.Types.DataType.Int32
                    ? ImportValue.Constant(OnnxTensors.Int64(t, what), t.Dims.Select(d => checked((int)d)).ToArray())
                    : throw new LopperInputException($"{what}: data type {OnnxTensors.Name(t.DataType)} is not supported (Lopper imports float32 models)"));
        }

        foreach (var node in g.Node)
        {
            ctx.Node = node;
            if (node.Domain is not ("" or "ai.onnx"))
                throw ctx.Fail($"custom domain '{node.Domain}' is not supported; export with standard ONNX ops only");
            var importer = OnnxImportRegistry.Find(node.OpType)
                ?? throw ctx.Fail($"op type '{node.OpType}' is not supported by Lopper's importer (supported: {string.Join(", ", OnnxImportRegistry.OpTypes)}); " +
                                  "replace it in the source model before export, or add an importer under src/Lopper.Onnx/Import/Ops");
            importer(ctx);
        }

        if (g.Output.Count != 1) throw new LopperInputException($"the graph has {g.Output.Count} outputs; Lopper imports classifiers with one output (the logits)");
        var output = ctx.Value(g.Output[0].Name) ?? throw new LopperInputException($"graph output '{g.Output[0].Name}' is not produced by any node");
        if (output.IsIntermediate || output.ChannelsLast) throw new LopperInputException($"graph output '{g.Output[0].Name}' is a channels-last view or a step of a LayerNorm/GELU pattern, not logits");
        if (!output.IsGraph || output.Node == "input") throw new LopperInputException($"graph output '{g.Output[0].Name}' is not computed from the input");
        if (output.Shape.Length != 2) throw new LopperInputException($"graph output '{g.Output[0].Name}' has shape {Tensor.Format(output.Shape)}; Lopper needs [N, classes] logits");

        var nodes = Live(ctx.Nodes, output.Node!);
        var all = new List<Node> { new("input", new InputOp(shape)) };
        all.AddRange(nodes);
        var graph = new ModelGraph(name, all);
        var model = new Model(graph);
        var weights = ctx.Weights.Where(kv => model.Find(kv.Key) is not null).ToDictionary(kv => kv.Key, kv => kv.Value);
        ModelStore.LoadWeights(model, weights, source);
        string producer = $"{onnx.ProducerName} {onnx.ProducerVersion}".Trim();
        return new ImportResult(model, opset, batch, producer);
    }

    private static long Opset(ModelProto onnx)
    {
        var entry = onnx.OpsetImport.FirstOrDefault(o => o.Domain is "" or "ai.onnx")
            ?? throw new LopperInputException("no opset_import for the default ONNX domain");
        if (entry.Version < MinOpset || entry.Version > MaxOpset)
            throw new LopperInputException($"opset {entry.Version} is not supported (Lopper reads opsets {MinOpset} to {MaxOpset}); convert the model with onnx.version_converter");
        return entry.Version;
    }

    private static (int[] Shape, long? Batch) InputShape(ValueInfoProto input, int[]? overrideShape)
    {
        var tt = input.Type?.TensorType ?? throw new LopperInputException($"input '{input.Name}' is not a tensor");
        if (tt.ElemType != (int)TensorProto.Types.DataType.Float)
            throw new LopperInputException($"input '{input.Name}' has element type {OnnxTensors.Name(tt.ElemType)}; Lopper imports float32 inputs");
        var dims = tt.Shape?.Dim;
        if (dims is null || dims.Count != 4) throw new LopperInputException($"input '{input.Name}' must be 4-D [N, C, H, W], got rank {dims?.Count ?? 0}");
        long? batch = dims[0].ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue ? dims[0].DimValue : null;
        if (overrideShape is not null) return (overrideShape, batch);
        var shape = new int[3];
        for (int i = 1; i < 4; i++)
        {
            if (dims[i].ValueCase != TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue || dims[i].DimValue < 1 || dims[i].DimValue > 1 << 16)
                throw new LopperInputException($"input '{input.Name}' dimension {i} is not a fixed size ({dims[i]}); give --input-shape CxHxW");
            shape[i - 1] = (int)dims[i].DimValue;
        }
        return (shape, batch);
    }

    // Nodes the output depends on, in order: exporters leave dead branches (unused statistics outputs), and the
    // output must be the last node of a Lopper graph.
    private static List<Node> Live(List<Node> nodes, string output)
    {
        var byName = nodes.ToDictionary(n => n.Name);
        var live = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([output]);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (n == "input" || !live.Add(n)) continue;
            foreach (var i in byName[n].Inputs) stack.Push(i);
        }
        return nodes.Where(n => live.Contains(n.Name)).ToList();
    }
}
