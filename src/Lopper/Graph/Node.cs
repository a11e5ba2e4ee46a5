namespace Lopper.Graph;

/// <summary>One operation in the model graph, with the names of the nodes it reads.</summary>
public sealed class Node
{
    /// <summary>Unique name; parameters are called "name.suffix".</summary>
    public string Name { get; }

    /// <summary>The operation.</summary>
    public Op Op { get; }

    /// <summary>Names of the input nodes, in order.</summary>
    public string[] Inputs { get; }

    /// <summary>Output shape with batch dimension 1 (filled by <see cref="ModelGraph"/>).</summary>
    public int[] OutputShape { get; internal set; } = [];

    /// <summary>Positions of the input nodes in the graph's node list.</summary>
    public int[] InputIndices { get; internal set; } = [];

    /// <summary>Creates a node.</summary>
    public Node(string name, Op op, params string[] inputs)
    {
        Name = name;
        Op = op;
        Inputs = inputs;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Op.Type})";
}
