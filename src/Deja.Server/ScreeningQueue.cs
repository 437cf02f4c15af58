using System.Threading.Channels;
using Deja.Memorization.Detection;

namespace Deja.Server;

/// <summary>The queue holds as many prompts as --queue-length allows; the request that would exceed it is answered 429.</summary>
public sealed class QueueFullException(int queued, int limit) : Exception($"the queue holds {queued} prompts, the limit is {limit}; retry later")
{
    public int Queued { get; } = queued;
}

/// <summary>
/// Dynamic batching (the model is CPU-bound, and a detector call on P prompts costs much less than P calls:
/// the unconditional branch is shared). Every request's prompts go into one channel as (request, position)
/// slots; a single worker takes the first waiting slot, then waits up to --max-wait-ms for more until it
/// has --max-batch, and scores them in one <see cref="Screener.Screen"/> call. Each result goes back to the
/// slot's own request at the slot's own position, so one request's prompts never reach another's reply; a
/// request that was abandoned (client gone, timeout) before its slots were taken costs no model time.
/// </summary>
public sealed class ScreeningQueue : IAsyncDisposable
{
    sealed class Job(string[] prompts, CancellationToken cancel)
    {
        public readonly string[] Prompts = prompts;
        public readonly ScreeningResult[] Results = new ScreeningResult[prompts.Length];
        public int Remaining = prompts.Length;
        public readonly CancellationToken Cancel = cancel;
        public readonly TaskCompletionSource<IReadOnlyList<ScreeningResult>> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    readonly record struct Slot(Job Job, int Position);

    readonly Channel<Slot> channel = Channel.CreateUnbounded<Slot>(new UnboundedChannelOptions { SingleReader = true });
    readonly Screener screener;
    readonly ModelLock model;
    readonly ServerMetrics metrics;
    readonly int maxBatch, limit;
    readonly TimeSpan maxWait;
    readonly CancellationTokenSource stop = new();
    readonly Task worker;
    int queued, inBatch;

    public ScreeningQueue(Screener screener, ModelLock model, ServerMetrics metrics, int maxBatch, TimeSpan maxWait, int queueLength)
    {
        (this.screener, this.model, this.metrics, this.maxBatch, this.maxWait, limit) = (screener, model, metrics, maxBatch, maxWait, queueLength);
        worker = Task.Factory.StartNew(Loop, TaskCreationOptions.LongRunning).Unwrap();
    }

    /// <summary>Prompts waiting for the model now.</summary>
    public int Queued => Volatile.Read(ref queued);

    /// <summary>Prompts of the batch the worker holds (waiting for its turn on the model, or being scored).</summary>
    public int InBatch => Volatile.Read(ref inBatch);

    /// <summary>Queues a request's prompts; its results come back in its order. Throws <see cref="QueueFullException"/> when they do not fit.</summary>
    public Task<IReadOnlyList<ScreeningResult>> Screen(string[] prompts, CancellationToken cancel)
    {
        int now = Interlocked.Add(ref queued, prompts.Length);
        if (now > limit)
        {
            Interlocked.Add(ref queued, -prompts.Length);
            throw new QueueFullException(now - prompts.Length, limit);
        }
        var job = new Job(prompts, cancel);
        for (int i = 0; i < prompts.Length; i++) channel.Writer.TryWrite(new Slot(job, i)); // unbounded: never refuses
        return job.Done.Task;
    }

    async Task Loop()
    {
        var reader = channel.Reader;
        var batch = new List<Slot>(maxBatch);
        try
        {
            while (await reader.WaitToReadAsync(stop.Token))
            {
                batch.Clear();
                Take(reader, batch);
                // Wait a little for company: the first prompt's latency buys the batch's throughput.
                if (batch.Count < maxBatch && maxWait > TimeSpan.Zero)
                {
                    var deadline = DateTime.UtcNow + maxWait;
                    while (batch.Count < maxBatch)
                    {
                        var left = deadline - DateTime.UtcNow;
                        if (left <= TimeSpan.Zero) break;
                        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                        wait.CancelAfter(left);
                        try { if (!await reader.WaitToReadAsync(wait.Token)) break; }
                        catch (OperationCanceledException) when (!stop.IsCancellationRequested) { break; }
                        Take(reader, batch);
                    }
                }
                // Abandoned requests (client gone, timed out) are dropped here, before they cost model time.
                batch.RemoveAll(s => s.Job.Cancel.IsCancellationRequested || s.Job.Done.Task.IsCompleted);
                if (batch.Count == 0) continue;
                await Run(batch);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
    }

    void Take(ChannelReader<Slot> reader, List<Slot> batch)
    {
        while (batch.Count < maxBatch && reader.TryRead(out var slot))
        {
            Interlocked.Decrement(ref queued);
            batch.Add(slot);
        }
    }

    async Task Run(List<Slot> batch)
    {
        IReadOnlyList<ScreeningResult> results;
        Volatile.Write(ref inBatch, batch.Count);
        await model.Lock.WaitAsync(stop.Token);
        try
        {
            // Noise index = the prompt's position in its own request (see Screener): independent of the batch.
            results = screener.Screen([.. batch.Select(s => s.Job.Prompts[s.Position])], [.. batch.Select(s => s.Position)]);
        }
        catch (Exception e)
        {
            foreach (var s in batch) s.Job.Done.TrySetException(e);
            return;
        }
        finally { model.Lock.Release(); Volatile.Write(ref inBatch, 0); }
        metrics.Batch(batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            var job = batch[i].Job;
            job.Results[batch[i].Position] = results[i];
            if (Interlocked.Decrement(ref job.Remaining) == 0) job.Done.TrySetResult(job.Results);
        }
    }

    int disposed;

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        channel.Writer.TryComplete();
        stop.Cancel();
        try { await worker; } catch (OperationCanceledException) { }
        stop.Dispose();
    }
}

/// <summary>One model, one user at a time: the batcher, /v1/explain and /v1/generate take turns on it.</summary>
public sealed class ModelLock
{
    public SemaphoreSlim Lock { get; } = new(1, 1);
}
