namespace Lopper.Methods;

/// <summary>
/// Marks a property of a method's options record as a user option: the CLI turns it into a flag, an experiment
/// config into a key, the help into usage text. Its default is the record's initial value; its checks live in the
/// record's Validate, so a method states its options once.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionAttribute(string help) : Attribute
{
    /// <summary>One line for the usage text.</summary>
    public string Help { get; } = help;

    /// <summary>The option's name on the command line and in configs when it is not the property's kebab-case name.</summary>
    public string? Name { get; init; }

    /// <summary>
    /// For a bool option that reads better as two words (for example "weight|none"): the word for true, a bar,
    /// the word for false. Without it a bool option is a switch that sets true.
    /// </summary>
    public string? Words { get; init; }

    /// <summary>A switch (no value) that sets the bool option to false, for options on by default ("no-gate-downsampling").</summary>
    public bool Negated { get; init; }
}

/// <summary>The word an enum member is written as in options, when it is not the member's kebab-case name.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class OptionWordAttribute(string word) : Attribute
{
    /// <summary>The word.</summary>
    public string Word { get; } = word;
}
