using System.Text;
using Deja.Memorization.Fuzzing;

namespace Deja.Server;

/// <summary>
/// Malformed request bodies for the service's fuzz checks (the unit test sends a few hundred, `deja bench
/// serve --fuzz N` sends N to a running server): valid /v1/screen bodies put through deja fuzz's byte and
/// JSON mutations, one to three at a time, seeded so that a failing input can be reproduced by its index.
/// </summary>
public static class RequestFuzz
{
    static readonly string[] Seeds =
    [
        """{"prompts": ["a large red circle at the top on a dotted purple background"]}""",
        """{"prompts": ["a small green triangle", "<script>alert(1)</script>"], "method": "anisotropy"}""",
        """{"prompts": ["two blue squares", "a striped background", "é ü 漢字 🙂"]}""",
    ];

    static readonly FuzzMutation[] Mutations =
        [.. ByteMutations.All, JsonMutations.EditValue, JsonMutations.DuplicateMember, JsonMutations.EditValue, JsonMutations.EditValue];

    /// <summary>Input <paramref name="index"/> of the stream for <paramref name="seed"/>.</summary>
    public static byte[] Body(long seed, long index)
    {
        var random = FuzzRandom.ForInput(seed, "serve", index);
        var body = Encoding.UTF8.GetBytes(random.Pick(Seeds));
        int edits = random.Between(1, 3);
        for (int i = 0; i < edits; i++)
        {
            // A JSON mutation of an earlier edit's output may not apply (e.g. a member name that is no longer
            // UTF-8, or a duplicated one, cannot be walked): that edit is skipped, the input stays as it was.
            try { body = random.Pick(Mutations)(body, random) ?? body; }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException) { }
        }
        return body;
    }

    public static IEnumerable<byte[]> Bodies(long seed, int count)
    {
        for (long i = 0; i < count; i++) yield return Body(seed, i);
    }
}
