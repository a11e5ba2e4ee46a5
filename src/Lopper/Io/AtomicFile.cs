using System.Runtime.InteropServices;

namespace Lopper.Io;

/// <summary>
/// Writes files so that a crash leaves either the old file or the new one, never half of one:
/// write to a temporary file beside the target, flush to disk, then rename over it.
/// </summary>
public static class AtomicFile
{
    /// <summary>Suffix of every temporary file this class writes (".NAME.PID.tmp").</summary>
    public const string TempSuffix = ".tmp";

    /// <summary>Writes bytes produced by <paramref name="write"/> to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        string tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}{TempSuffix}");
        try
        {
            WriteDurable(tmp, write);
            File.Move(tmp, path, overwrite: true);
            SyncDirectory(dir);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }

    /// <summary>Writes text (UTF-8, no BOM) atomically.</summary>
    public static void WriteText(string path, string text)
        => Write(path, s => { var b = new System.Text.UTF8Encoding(false).GetBytes(text); s.Write(b); });

    /// <summary>Writes a new file (no rename) and flushes it to disk before returning.</summary>
    public static void WriteDurable(string path, Action<Stream> write)
    {
        using var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        write(fs);
        fs.Flush(flushToDisk: true);
    }

    /// <summary>
    /// Deletes temporary files (".NAME.PID.tmp") that a killed writer left in <paramref name="dir"/>.
    /// Call only while holding the folder's <see cref="RunLock"/>, so no live writer's file is removed.
    /// </summary>
    public static void CleanStale(string dir)
    {
        if (!Directory.Exists(dir)) return;
        foreach (var f in Directory.EnumerateFiles(dir, "." + "*" + TempSuffix))
        {
            try { File.Delete(f); }
            catch (IOException) { }
        }
    }

    /// <summary>
    /// Flushes a directory's entries (renames, creations) to disk, so a rename survives a power cut, not
    /// only a killed process. Best effort: a no-op where the platform offers no directory handle.
    /// </summary>
    public static void SyncDirectory(string dir)
    {
        if (OperatingSystem.IsWindows()) return;
        int fd = Native.open(dir, 0 /* O_RDONLY */);
        if (fd < 0) return;
        _ = Native.fsync(fd);
        _ = Native.close(fd);
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);
        [DllImport("libc", SetLastError = true)]
        public static extern int fsync(int fd);
        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);
    }
}
