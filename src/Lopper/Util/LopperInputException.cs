namespace Lopper;

/// <summary>
/// Bad input from the user: a malformed file, an unknown flag value, mismatched shapes.
/// The CLI turns it into a one-line message and exit code 2.
/// </summary>
public sealed class LopperInputException : Exception
{
    /// <summary>Creates the exception with a one-line message that names the file, field or flag.</summary>
    public LopperInputException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the low-level cause.</summary>
    public LopperInputException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A run that started fine but failed (for example a NaN loss). Exit code 1.</summary>
public sealed class LopperRunException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LopperRunException(string message) : base(message) { }
}
