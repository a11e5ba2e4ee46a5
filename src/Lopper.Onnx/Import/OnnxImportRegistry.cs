using Lopper.Onnx.Import.Ops;

namespace Lopper.Onnx.Import;

/// <summary>
/// ONNX op types Lopper imports, each mapped to the function that turns one node into Lopper nodes (or
/// folds it into a constant or an alias). Supporting a new ONNX op is one entry here and one small file
/// under Import/Ops.
/// </summary>
public static class OnnxImportRegistry
{
    private static readonly Dictionary<string, Action<ImportContext>> Importers = new(StringComparer.Ordinal)
    {
        ["Conv"] = ConvImport.Import,
        ["BatchNormalization"] = BatchNormImport.Import,
        ["Relu"] = ReluImport.Import,
        ["MaxPool"] = PoolImport.MaxPool,
        ["AveragePool"] = PoolImport.AveragePool,
        ["GlobalAveragePool"] = PoolImport.GlobalAveragePool,
        ["ReduceMean"] = PoolImport.ReduceMean,
        ["Sigmoid"] = ActivationImport.Sigmoid,
        ["HardSigmoid"] = ActivationImport.HardSigmoid,
        ["HardSwish"] = ActivationImport.HardSwish,
        ["Clip"] = ActivationImport.Clip,
        ["Softmax"] = ActivationImport.Softmax,
        ["LogSoftmax"] = ActivationImport.LogSoftmax,
        ["Mul"] = ChannelImport.Mul,
        ["Split"] = ChannelImport.Split,
        ["Div"] = IntegerArithmetic.Div,
        ["Flatten"] = FlattenImport.Flatten,
        ["Reshape"] = FlattenImport.Reshape,
        ["Gemm"] = LinearImport.Gemm,
        ["MatMul"] = LinearImport.MatMul,
        ["Add"] = AddImport.Import,
        ["Dropout"] = PassImport.Dropout,
        ["Identity"] = PassImport.Identity,
        ["Pad"] = PadImport.Import,
        ["Constant"] = ConstantFold.Constant,
        ["Shape"] = ConstantFold.Shape,
        ["Gather"] = ConstantFold.Gather,
        ["Unsqueeze"] = ConstantFold.Unsqueeze,
        ["Squeeze"] = ConstantFold.Squeeze,
        ["Concat"] = ConstantFold.Concat,
        ["ConstantOfShape"] = ConstantArrays.ConstantOfShape,
        ["Cast"] = ConstantArrays.Cast,
        ["Transpose"] = ConstantArrays.Transpose,
        ["Slice"] = ConstantArrays.Slice,
        ["Sub"] = LayerNormImport.Sub,
        ["Pow"] = LayerNormImport.Pow,
        ["Sqrt"] = LayerNormImport.Sqrt,
        ["Erf"] = GeluImport.Erf,
    };

    /// <summary>ONNX op types with an importer.</summary>
    public static IEnumerable<string> OpTypes => Importers.Keys;

    /// <summary>Adds or replaces the importer of an ONNX op type.</summary>
    public static void Register(string opType, Action<ImportContext> importer) => Importers[opType] = importer;

    /// <summary>The importer for <paramref name="opType"/>, or null.</summary>
    public static Action<ImportContext>? Find(string opType) => Importers.GetValueOrDefault(opType);
}
