namespace Lopper.Data.Npy;

/// <summary>One array read from a .npy file or .npz entry: its dtype (NumPy descr), shape and raw little-endian bytes.</summary>
/// <param name="Source">File (and entry) name, for messages.</param>
/// <param name="Descr">NumPy type string, e.g. "|u1", "&lt;f4", "&lt;i8".</param>
/// <param name="Shape">Dimensions, C order.</param>
/// <param name="Data">Element bytes, C order, little-endian.</param>
public sealed record NpyArray(string Source, string Descr, int[] Shape, byte[] Data);
