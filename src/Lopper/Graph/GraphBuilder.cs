using Lopper.Graph.Ops;

namespace Lopper.Graph;

/// <summary>
/// Appends nodes one at a time, inferring shapes as it goes so layer builders can ask how many
/// channels a node produces. Each method returns the new node's name.
/// </summary>
public sealed class GraphBuilder
{
    private readonly List<Node> _nodes = new();
    private readonly Dictionary<string, int[]> _shapes = new();

    /// <summary>Starts a graph whose input has per-sample shape <paramref name="inputShape"/> (C, H, W).</summary>
    public GraphBuilder(int[] inputShape, string inputName = "input")
    {
        var op = new InputOp(inputShape);
        _nodes.Add(new Node(inputName, op));
        _shapes[inputName] = [1, .. inputShape];
        Input = inputName;
    }

    /// <summary>Name of the input node.</summary>
    public string Input { get; }

    /// <summary>Shape (batch 1) of a node already added.</summary>
    public int[] ShapeOf(string node) => _shapes[node];

    /// <summary>Channels (dimension 1) of a node already added.</summary>
    public int ChannelsOf(string node) => _shapes[node][1];

    /// <summary>Adds any op.</summary>
    public string Add(string name, Op op, params string[] inputs)
    {
        if (_shapes.ContainsKey(name)) throw new ArgumentException($"duplicate node name '{name}'");
        _nodes.Add(new Node(name, op, inputs));
        _shapes[name] = op.OutputShape(inputs.Select(i => _shapes[i]).ToArray());
        return name;
    }

    /// <summary>Convolution with no bias (the usual choice before batch-norm); <paramref name="groups"/> = input channels makes it depthwise.</summary>
    public string Conv(string name, string x, int outChannels, int kernel, int stride = 1, int padding = 0, bool bias = false, int groups = 1, int dilation = 1)
        => Add(name, new Conv2dOp(ChannelsOf(x), outChannels, kernel, stride, padding, bias, groups: groups, dilation: dilation), x);

    /// <summary>Batch-norm over the channels of <paramref name="x"/>.</summary>
    public string BatchNorm(string name, string x) => Add(name, new BatchNorm2dOp(ChannelsOf(x)), x);

    /// <summary>ReLU.</summary>
    public string Relu(string name, string x) => Add(name, new ReluOp(), x);

    /// <summary>Max pooling.</summary>
    public string MaxPool(string name, string x, int kernel, int stride, int padding = 0, bool ceilMode = false) => Add(name, new MaxPool2dOp(kernel, stride, padding, ceilMode), x);

    /// <summary>Average pooling.</summary>
    public string AvgPool(string name, string x, int kernel, int stride, int padding = 0, bool ceilMode = false, bool countIncludePad = true)
        => Add(name, new AvgPool2dOp(kernel, stride, padding, ceilMode, countIncludePad), x);

    /// <summary>Concatenation along channels.</summary>
    public string Concat(string name, params string[] xs) => Add(name, new ConcatOp(), xs);

    /// <summary>Elementwise product; <paramref name="gate"/> may be [N,C,1,1] (a per-channel gate).</summary>
    public string Mul(string name, string x, string gate) => Add(name, new MulOp(), x, gate);

    /// <summary>Channel shuffle over <paramref name="groups"/> groups.</summary>
    public string Shuffle(string name, string x, int groups) => Add(name, new ChannelShuffleOp(groups), x);

    /// <summary>Channels [start, start + channels) of <paramref name="x"/>.</summary>
    public string ChannelSlice(string name, string x, int start, int channels) => Add(name, new ChannelSliceOp(start, channels), x);

    /// <summary>Global average pooling.</summary>
    public string GlobalAvgPool(string name, string x) => Add(name, new GlobalAvgPoolOp(), x);

    /// <summary>Flatten to [N, features].</summary>
    public string Flatten(string name, string x) => Add(name, new FlattenOp(), x);

    /// <summary>Fully connected layer with bias.</summary>
    public string Linear(string name, string x, int outFeatures, bool bias = true) => Add(name, new LinearOp(_shapes[x][1], outFeatures, bias), x);

    /// <summary>Dropout.</summary>
    public string Dropout(string name, string x, double p) => Add(name, new DropoutOp(p), x);

    /// <summary>Elementwise sum.</summary>
    public string Sum(string name, params string[] xs) => Add(name, new AddOp(), xs);

    /// <summary>The finished graph (the last node added is the output).</summary>
    public ModelGraph Build(string modelName) => new(modelName, _nodes);
}
