using Lopper.Tensors;

namespace Lopper.Graph;

/// <summary>A named parameter tensor with its gradient buffer and the spec that created it.</summary>
public sealed class Parameter
{
    /// <summary>"node.suffix", e.g. "conv1.weight".</summary>
    public string Name { get; }

    /// <summary>Node that owns it.</summary>
    public Node Owner { get; }

    /// <summary>Shape, init rule, channel axes.</summary>
    public ParamSpec Spec { get; }

    /// <summary>The values.</summary>
    public Tensor Value { get; set; }

    /// <summary>Gradient of the last backward pass (same shape), or null for non-trainable parameters.</summary>
    public Tensor? Grad { get; }

    /// <summary>Creates a parameter with zero values.</summary>
    public Parameter(string name, Node owner, ParamSpec spec)
    {
        Name = name;
        Owner = owner;
        Spec = spec;
        Value = new Tensor(spec.Shape);
        Grad = spec.Trainable ? new Tensor(spec.Shape) : null;
    }

    /// <summary>False for running statistics and masks.</summary>
    public bool Trainable => Spec.Trainable;
}
