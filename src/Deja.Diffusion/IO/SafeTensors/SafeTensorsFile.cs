using System.Buffers;
using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Deja.Tensors;
using Deja.Tensors.Kernels;
using Deja.Tensors.Nn;

namespace Deja.Diffusion.IO;

/// <summary>How bulk tensor data travels from the file into tensors.</summary>
public enum SafeTensorsReadMode
{
    /// <summary>
    /// Positional reads (pread) straight into each tensor's memory (F32) or through a small per-chunk
    /// buffer (F16/BF16/F64). The default: on the development VM it moved page-cached data 5x faster
    /// than copying out of the memory map, and a file truncated while open gives an exception instead of SIGBUS.
    /// </summary>
    PositionalRead,
    /// <summary>Copy or widen straight from the memory-mapped pages.</summary>
    MemoryMap,
}

/// <summary>
/// A safetensors file opened read-only. The header is read and validated through a memory map at
/// open; tensor data goes straight into each tensor's buffer (see <see cref="SafeTensorsReadMode"/>),
/// in parallel chunks, so loading a multi-GB checkpoint costs one pass over its bytes.
/// The file must not be modified while it is open. Reads may run concurrently; Dispose may not.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>Work unit of the parallel readers, in elements: large enough to amortize scheduling, small enough to balance 2-16 cores.</summary>
    const int ChunkElements = 1 << 20;

    /// <summary>
    /// Unit of hashing and of the finiteness check, in elements: each chunk is read in blocks this small so
    /// that hashing and scanning a block find it still in the core's cache (at most 512 KB as F64).
    /// </summary>
    const int BlockElements = 1 << 16;

    readonly SafeFileHandle handle;
    readonly MemoryMappedFile map;
    readonly MemoryMappedViewAccessor view;
    readonly byte* basePointer;
    readonly Dictionary<string, SafeTensorsEntry> byName;
    readonly Dictionary<string, int> indexByName;
    readonly ContentDigest digest;
    bool disposed;

    public string Path { get; }
    public long FileLength { get; }
    /// <summary>Absolute file position of the data area (8 + header length).</summary>
    public long DataStart { get; }
    /// <summary>Every tensor in the order of its data in the file.</summary>
    public IReadOnlyList<SafeTensorsEntry> Entries { get; }
    /// <summary>The header's "__metadata__" (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public SafeTensorsReadMode ReadMode { get; }
    /// <summary>Whether float reads let NaN and ±infinity through (off by default: see <see cref="CheckFinite"/>).</summary>
    public bool AllowNonFinite { get; private init; }

    SafeTensorsFile(string path, SafeTensorsReadMode mode, SafeFileHandle handle, long fileLength,
                    MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer)
    {
        Path = path;
        ReadMode = mode;
        FileLength = fileLength;
        this.handle = handle;
        this.map = map;
        this.view = view;
        this.basePointer = basePointer;

        long headerLength = SafeTensorsHeader.CheckPrefix(path, fileLength, BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(basePointer, 8)));
        DataStart = 8 + headerLength;
        var parsed = SafeTensorsHeader.Parse(path, new ReadOnlySpan<byte>(basePointer + 8, (int)headerLength), fileLength - DataStart);
        Entries = parsed.Entries;
        Metadata = parsed.Metadata;
        byName = parsed.Entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        indexByName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Entries.Count; i++) indexByName[Entries[i].Name] = i;
        digest = new ContentDigest(Entries, BlockElements);
    }

    /// <summary>
    /// Opens <paramref name="path"/> and validates its header; throws <see cref="DejaException"/> naming the problem.
    /// <paramref name="allowNonFinite"/> lets float reads return NaN and infinities (tests of the conversions;
    /// files whose special values are data, not damage).
    /// </summary>
    public static SafeTensorsFile Open(string path, SafeTensorsReadMode readMode = SafeTensorsReadMode.PositionalRead, bool allowNonFinite = false)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path)) throw new DejaException($"safetensors file '{path}' does not exist");
        SafeFileHandle handle;
        try { handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DejaException($"safetensors file '{path}' cannot be read: {e.Message}", e);
        }
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false;
        try
        {
            long length = RandomAccess.GetLength(handle);
            // A memory map of an empty file is an error of its own; report every too-short file the same way.
            if (length < 8) SafeTensorsHeader.CheckPrefix(path, length, 0);
            map = MemoryMappedFile.CreateFromFile(handle, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            return new SafeTensorsFile(path, readMode, handle, length, map, view, p + view.PointerOffset) { AllowNonFinite = allowNonFinite };
        }
        catch
        {
            if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
            view?.Dispose();
            map?.Dispose();
            handle.Dispose();
            throw;
        }
    }

    public IEnumerable<string> Names => Entries.Select(e => e.Name);
    public int Count => Entries.Count;
    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>The header entry of <paramref name="name"/>; throws <see cref="DejaException"/> naming the file.</summary>
    public SafeTensorsEntry Entry(string name) =>
        byName.TryGetValue(name, out var e) ? e
            : throw new DejaException($"safetensors file '{Path}' has no tensor '{name}' ({Count} tensors{Sample()})");

    string Sample() => Count == 0 ? "" : ": " + string.Join(", ", Entries.Take(5).Select(e => e.Name)) + (Count > 5 ? ", ..." : "");

    // ------------------------------------------------------------------ float tensors

    /// <summary>
    /// Reads one tensor as float32 (F32 copied; F16, BF16 widened exactly; F64 rounded). Every float read
    /// refuses a tensor holding NaN or ±infinity (see <see cref="CheckFinite"/>) and feeds <see cref="ContentHash"/>.
    /// </summary>
    public Tensor ReadTensor(string name)
    {
        var e = CheckFloat(Entry(name));
        var t = Tensor.Empty(e.Shape);
        HugePages.Advise(t.Span);
        try { Copy(e, t.Span); }
        catch { t.Dispose(); throw; }
        return t;
    }

    /// <summary>Reads one tensor into an existing tensor of the same shape (e.g. a module parameter).</summary>
    public void ReadInto(string name, Tensor destination)
    {
        var e = CheckFloat(Entry(name));
        if (!Shapes.Equal(e.Shape, destination.Shape))
            throw new DejaException($"safetensors file '{Path}': tensor '{name}' has shape {Shapes.Str(e.Shape)}, the destination {Shapes.Str(destination.Shape)}");
        Copy(e, destination.Span);
    }

    /// <summary>Reads every listed tensor (all float tensors when <paramref name="names"/> is null), in parallel.</summary>
    public Dictionary<string, Tensor> ReadTensors(IEnumerable<string>? names = null)
    {
        var entries = (names is null ? Entries.Where(e => e.DType.IsReadableAsFloat()) : names.Distinct().Select(Entry))
            .Select(CheckFloat).ToList();
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var e in entries)
            {
                var t = result[e.Name] = Tensor.Empty(e.Shape);
                HugePages.Advise(t.Span); // fresh memory: first-touch page faults dominate a multi-GB load
            }
            CopyAll(entries.Select(e => (e, result[e.Name])).ToList());
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>
    /// Fills existing tensors by key (e.g. <c>module.StateDict()</c>), in parallel, with no intermediate copies.
    /// With <paramref name="strict"/>, a target missing from the file or a float tensor of the file
    /// without a target is an error; a shape mismatch always is. Nothing is written unless all checks pass.
    /// </summary>
    public void ReadInto(IReadOnlyDictionary<string, Tensor> targets, bool strict = true)
    {
        var problems = new List<string>();
        var work = new List<(SafeTensorsEntry, Tensor)>();
        foreach (var (key, t) in targets)
        {
            if (!byName.TryGetValue(key, out var e)) { if (strict) problems.Add($"missing tensor '{key}' {Shapes.Str(t.Shape)}"); continue; }
            if (!e.DType.IsReadableAsFloat()) problems.Add($"'{key}' is {e.DType}, not a float type");
            else if (!Shapes.Equal(e.Shape, t.Shape)) problems.Add($"'{key}': file has {Shapes.Str(e.Shape)}, model expects {Shapes.Str(t.Shape)}");
            else work.Add((e, t));
        }
        if (strict)
            foreach (var e in Entries)
                if (!targets.ContainsKey(e.Name)) problems.Add($"unexpected tensor '{e.Name}' {Shapes.Str(e.Shape)}");
        if (problems.Count > 0)
            throw new DejaException($"safetensors file '{Path}' does not fit the model ({problems.Count} problem{(problems.Count > 1 ? "s" : "")}): " +
                                    string.Join("; ", problems.Take(20)) + (problems.Count > 20 ? $"; ... and {problems.Count - 20} more" : ""));
        CopyAll(work);
    }

    /// <summary>Loads a module's parameters and buffers from this file by checkpoint key.</summary>
    public void LoadModule(Module module, bool strict = true) => ReadInto(module.StateDict(), strict);

    SafeTensorsEntry CheckFloat(SafeTensorsEntry e)
    {
        if (!e.DType.IsReadableAsFloat())
            throw new DejaException($"safetensors file '{Path}': tensor '{e.Name}' is {e.DType}; only F32, F16, BF16 and F64 can be read as float32 (use ReadInt64 for integers)");
        if (e.ElementCount > Array.MaxLength)
            throw new DejaException($"safetensors file '{Path}': tensor '{e.Name}' has {e.ElementCount} elements, more than one tensor can hold");
        return e;
    }

    /// <summary>One tensor, split into chunks so a single large tensor still uses every core.</summary>
    void Copy(SafeTensorsEntry e, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        fixed (float* dst = destination)
        {
            float* d = dst; // a fixed local cannot be captured by the lambda
            int length = destination.Length;
            Unwrapped(() => Threading.Chunks(length, ChunkElements, (start, end) => ReadChunk(e, start, new Span<float>(d + start, end - start))));
        }
    }

    /// <summary>Many tensors: chunks of all of them in one parallel loop, so small and large tensors balance.</summary>
    void CopyAll(List<(SafeTensorsEntry Entry, Tensor Target)> work)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var chunks = new List<(int Item, int Start, int End)>();
        for (int i = 0; i < work.Count; i++)
        {
            int n = (int)work[i].Entry.ElementCount;
            for (int s = 0; s < n; s += ChunkElements) chunks.Add((i, s, Math.Min(n, s + ChunkElements)));
        }
        Unwrapped(() => Threading.For(chunks.Count, c =>
        {
            var (item, start, end) = chunks[c];
            var (e, t) = work[item];
            ReadChunk(e, start, t.Span[start..end]);
        }));
    }

    /// <summary>A problem found by a parallel reader surfaces as itself, not wrapped in an AggregateException.</summary>
    static void Unwrapped(Action read)
    {
        try { read(); }
        catch (AggregateException e) when (e.InnerExceptions.Count > 0)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
    }

    /// <summary>
    /// Elements [start, start + destination.Length) of a tensor, as float32, block by block: each block's
    /// stored bytes are hashed for <see cref="ContentHash"/> and its values checked to be finite right after
    /// the block is read, while it is still in cache. <paramref name="start"/> is a multiple of <see cref="ChunkElements"/>.
    /// </summary>
    void ReadChunk(SafeTensorsEntry e, int start, Span<float> destination)
    {
        int entry = indexByName[e.Name];
        for (int done = 0; done < destination.Length; done += BlockElements)
        {
            int first = start + done;
            ReadBlock(e, entry, first, destination.Slice(done, Math.Min(BlockElements, destination.Length - done)));
        }
    }

    void ReadBlock(SafeTensorsEntry e, int entry, int first, Span<float> destination)
    {
        int size = e.DType.SizeOf(), block = first / BlockElements;
        long offset = DataStart + e.Begin + (long)first * size;
        if (ReadMode == SafeTensorsReadMode.MemoryMap)
        {
            digest.Record(entry, block, new ReadOnlySpan<byte>(basePointer + offset, destination.Length * size));
            ElementConversion.ToFloat32(e.DType, basePointer + offset, destination);
        }
        else if (e.DType == SafeTensorsDType.F32)
        {
            var bytes = MemoryMarshal.AsBytes(destination);
            ReadExactly(bytes, offset, e);
            digest.Record(entry, block, bytes);
        }
        else
        {
            int bytes = destination.Length * size;
            var scratch = ArrayPool<byte>.Shared.Rent(bytes);
            try
            {
                ReadExactly(scratch.AsSpan(0, bytes), offset, e);
                digest.Record(entry, block, scratch.AsSpan(0, bytes));
                fixed (byte* p = scratch) ElementConversion.ToFloat32(e.DType, p, destination);
            }
            finally { ArrayPool<byte>.Shared.Return(scratch); }
        }
        CheckFinite(e, first, destination);
    }

    /// <summary>
    /// A NaN or infinite weight poisons every output it touches (a damaged file would score as NaN rows
    /// with exit code 0), and no trained model stores one on purpose: refuse it at load, naming the tensor.
    /// F64 values too large for float32 become infinite and are refused the same way.
    /// </summary>
    void CheckFinite(SafeTensorsEntry e, int start, ReadOnlySpan<float> values)
    {
        if (AllowNonFinite) return;
        int bad = FloatChecks.IndexOfNonFinite(values);
        if (bad >= 0)
            throw new DejaException($"safetensors file '{Path}': tensor '{e.Name}' holds a non-finite value ({values[bad]} at element {(long)start + bad}); " +
                                    "the file is damaged or comes from a diverged training run");
    }

    /// <summary>
    /// A 64-bit hash of every tensor's name, dtype, shape and stored bytes (not of the header's layout or
    /// metadata): two files with equal tensors have equal hashes, and any changed weight changes it.
    /// Chunks already read (a model load reads them all) were hashed while loading; the rest are hashed now
    /// from the memory map. See <see cref="ContentDigest"/> for the exact definition.
    /// </summary>
    public ulong ContentHash()
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return digest.Finish((entry, chunk) =>
        {
            var e = Entries[entry];
            int size = e.DType.SizeOf();
            long first = (long)chunk * BlockElements * size;
            long length = Math.Min(e.ByteLength - first, (long)BlockElements * size);
            return new ReadOnlySpan<byte>(basePointer + DataStart + e.Begin + first, (int)length);
        });
    }

    void ReadExactly(Span<byte> destination, long offset, SafeTensorsEntry e)
    {
        while (destination.Length > 0)
        {
            int n = RandomAccess.Read(handle, destination, offset);
            if (n <= 0)
                throw new DejaException($"safetensors file '{Path}': tensor '{e.Name}': the file ended at byte {offset} while reading; it was truncated after it was opened");
            destination = destination[n..];
            offset += n;
        }
    }

    // ------------------------------------------------------------------ integer tensors

    /// <summary>Reads an integer tensor (I64, I32, I16, I8, U8, U16, U32, BOOL) as int64 values.</summary>
    public Int64Tensor ReadInt64(string name)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var e = Entry(name);
        if (!e.DType.IsReadableAsInt64())
            throw new DejaException($"safetensors file '{Path}': tensor '{name}' is {e.DType}; only integer and bool tensors can be read as int64 (use ReadTensor for floats)");
        if (e.ElementCount > Array.MaxLength)
            throw new DejaException($"safetensors file '{Path}': tensor '{name}' has {e.ElementCount} elements, more than one array can hold");
        var data = new long[e.ElementCount];
        ElementConversion.ToInt64(e.DType, basePointer + DataStart + e.Begin, data);
        return new Int64Tensor(data, e.Shape);
    }

    /// <summary>The stored bytes of a tensor; valid only while this file is open.</summary>
    internal ReadOnlySpan<byte> RawBytes(string name)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var e = Entry(name);
        return new ReadOnlySpan<byte>(basePointer + DataStart + e.Begin, checked((int)e.ByteLength));
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map.Dispose();
        handle.Dispose();
    }
}
