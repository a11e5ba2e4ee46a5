namespace Lopper.Graph;

/// <summary>How a parameter is initialised in a fresh model.</summary>
public enum ParamInit
{
    /// <summary>All zeros.</summary>
    Zeros,
    /// <summary>All ones.</summary>
    Ones,
    /// <summary>Kaiming-normal, fan-out, ReLU gain (torchvision's choice for convolutions).</summary>
    KaimingNormalFanOut,
    /// <summary>Uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default for linear layers).</summary>
    UniformFanIn,
}

/// <summary>
/// One parameter tensor an op owns. The channel axes tell pruning which slice belongs to which
/// channel: <see cref="OutAxis"/> indexes the op's output channels, <see cref="InAxis"/> its input channels.
/// </summary>
/// <param name="Name">Suffix after the node name, e.g. "weight" gives "conv1.weight".</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="Init">Initialisation rule.</param>
/// <param name="Trainable">False for running statistics and fixed masks: the optimizer leaves them alone.</param>
/// <param name="OutAxis">Axis indexed by output channel, or -1.</param>
/// <param name="InAxis">Axis indexed by input channel, or -1.</param>
/// <param name="FanIn">Fan-in used by the initialiser.</param>
/// <param name="FanOut">Fan-out used by the initialiser.</param>
public sealed record ParamSpec(string Name, int[] Shape, ParamInit Init, bool Trainable, int OutAxis, int InAxis, int FanIn = 1, int FanOut = 1);
