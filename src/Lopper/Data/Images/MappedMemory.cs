using System.Buffers;
using System.IO.MemoryMappedFiles;

namespace Lopper.Data.Images;

/// <summary>
/// A read-only file mapped into memory and exposed as <see cref="Memory{T}"/>, so a <see cref="Dataset"/> can
/// read a decoded cache without copying it into the heap. The mapping lives as long as this object is reachable
/// (the dataset holds it through its memory). No finalizer (a span may outlive the last reference to the
/// manager): an undisposed mapping stays until the process ends, which is what a dataset's life is anyway.
/// </summary>
internal sealed unsafe class MappedMemory : MemoryManager<byte>
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _pointer;
    private readonly int _length;

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="path"/> from <paramref name="offset"/>.</summary>
    public MappedMemory(string path, long offset, int length)
    {
        _file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        _view = _file.CreateViewAccessor(offset, length, MemoryMappedFileAccess.Read);
        byte* p = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        _pointer = p + _view.PointerOffset;
        _length = length;
    }

    public override Span<byte> GetSpan() => new(_pointer, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing)
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        if (disposing)
        {
            _view.Dispose();
            _file.Dispose();
        }
    }
}
