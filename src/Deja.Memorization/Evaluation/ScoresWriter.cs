namespace Deja.Memorization.Evaluation;

/// <summary>Appends rows to a score file opened with <see cref="ScoresFile.OpenForAppend"/>.</summary>
public sealed class ScoresWriter : IDisposable
{
    readonly FileStream stream;
    readonly string modelId, method, canonicalParams;
    readonly HashSet<(int, string)> done;

    internal ScoresWriter(FileStream stream, string path, string modelId, string method, string canonicalParams,
                          HashSet<(int, string)> done, IReadOnlyList<(int, string)> existingKeys, long droppedBytes)
    {
        this.stream = stream; Path = path; this.modelId = modelId; this.method = method;
        this.canonicalParams = canonicalParams; this.done = done; ExistingKeys = existingKeys; DroppedBytes = droppedBytes;
    }

    public string Path { get; }

    /// <summary>Rows already in the file when it was opened.</summary>
    public int ExistingRows => ExistingKeys.Count;

    /// <summary>The (index, prompt) of every row in the file when it was opened, in file order, duplicates
    /// included (see <see cref="ScoresResume"/>).</summary>
    public IReadOnlyList<(int Index, string Prompt)> ExistingKeys { get; }

    /// <summary>Bytes of a trailing partial line (a write cut short) that were cut off on open; 0 normally.</summary>
    public long DroppedBytes { get; }

    /// <summary>The (index, prompt) pairs already scored, including rows appended since opening: skip them on resume.</summary>
    public IReadOnlySet<(int Index, string Prompt)> Done => done;

    /// <summary>
    /// Appends rows as complete lines in ONE write, then flushes to disk, so a kill loses at most the
    /// batch in flight and never leaves a half line in the middle of the file.
    /// </summary>
    public void AppendBatch(IReadOnlyCollection<ScoreRow> rows)
    {
        if (rows.Count == 0) return;
        foreach (var row in rows)
            ScoresFile.CheckSameRun(row, $"row {row.Index} (\"{row.Prompt}\")", modelId, method, canonicalParams);
        var bytes = ScoresFile.Serialize(rows);
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
        foreach (var row in rows) done.Add((row.Index, row.Prompt));
    }

    public void Dispose() => stream.Dispose();
}
