using Lopper.Graph;
using Lopper.Io;
using Lopper.Onnx.Proto;

namespace Lopper.Onnx.Export;

/// <summary>
/// Lopper to ONNX (opset 13, IR version 7): one graph input "input" [batch, C, H, W] with a symbolic
/// batch dimension, one output "logits" [batch, classes], weights as float32 initializers, and the
/// caller's key/value record in metadata_props. Each node goes through its exporter in
/// <see cref="OnnxExportRegistry"/>; an op without one fails naming the node.
/// </summary>
public static class OnnxExporter
{
    /// <summary>Default-domain opset written.</summary>
    public const long Opset = 13;
    /// <summary>IR version written (the one that goes with opset 13).</summary>
    public const long IrVersion = 7;
    /// <summary>Name of the graph input.</summary>
    public const string InputName = "input";
    /// <summary>Name of the graph output.</summary>
    public const string OutputName = "logits";

    /// <summary>Builds the ONNX model of <paramref name="model"/> (inference form: dropout is the identity, gates their mean).</summary>
    public static ModelProto Export(Model model, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var graph = new GraphProto { Name = model.Graph.Name };
        var ctx = new ExportContext(graph, model);
        var nodes = model.Graph.Nodes;
        ctx.Fresh(InputName);
        ctx.Bind(nodes[0].Name, InputName);
        graph.Input.Add(ValueInfo(InputName, [.. model.Graph.InputShape]));
        for (int i = 1; i < nodes.Count; i++)
        {
            ctx.Node = nodes[i];
            ctx.Parameters = model.NodeParameters[i].Select(p => p.Value).ToArray();
            var exporter = OnnxExportRegistry.Find(nodes[i].Op.Type)
                ?? throw ctx.Fail($"op '{nodes[i].Op.Type}' has no ONNX exporter (exportable: {string.Join(", ", OnnxExportRegistry.OpTypes)})");
            exporter(ctx);
        }
        string last = ctx.ValueOf(nodes[^1].Name);
        var lastNode = graph.Node.LastOrDefault();
        if (lastNode is not null && lastNode.Output[0] == last) lastNode.Output[0] = OutputName;
        else graph.Node.Add(new NodeProto { OpType = "Identity", Name = OutputName, Input = { last }, Output = { OutputName } });
        graph.Output.Add(ValueInfo(OutputName, [model.Graph.Classes]));

        var m = new ModelProto
        {
            IrVersion = IrVersion, ProducerName = "lopper", ProducerVersion = RunInfo.Version, Graph = graph,
            DocString = $"{model.Graph.Name} exported by Lopper",
        };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        if (metadata is not null)
            foreach (var (k, v) in metadata) m.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
        return m;
    }

    private static ValueInfoProto ValueInfo(string name, int[] perSample)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        foreach (int d in perSample) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
