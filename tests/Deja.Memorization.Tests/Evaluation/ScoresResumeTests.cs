using Deja.Memorization.Evaluation;
using Deja.Tensors;

namespace Deja.Memorization.Tests.Evaluation;

/// <summary>How a resumed detect run matches the rows already in its --out file to its prompts (issue 12 §5).</summary>
public class ScoresResumeTests
{
    static readonly string[] Prompts = ["a", "b", "c", "d", "e"];

    [Fact]
    public void RowsOfThePromptListAreDoneAndRowsBeyondTheLimitAreKept()
    {
        var plan = ScoresResume.Plan([(0, "a"), (1, "b"), (3, "d"), (4, "e")], Prompts, count: 2, "s.jsonl", "p.txt");
        Assert.Equal([0, 1], plan.Done.Order());
        Assert.Equal(2, plan.BeyondLimit);
        Assert.Empty(ScoresResume.Plan([], Prompts, 5, "s.jsonl", "p.txt").Done);
    }

    [Fact]
    public void ARowOfAnotherPromptListIsNamedWithBothTexts()
    {
        var e = Assert.Throws<DejaException>(() => ScoresResume.Plan([(1, "x")], Prompts, 5, "s.jsonl", "p.txt"));
        Assert.Equal("s.jsonl has a row for prompt 1 (\"x\"), but prompt 1 of p.txt is \"b\"; the file was scored on another prompt list: use another --out", e.Message);
        var past = Assert.Throws<DejaException>(() => ScoresResume.Plan([(7, "h")], Prompts, 5, "s.jsonl", "p.txt"));
        Assert.Equal("s.jsonl has a row for prompt 7 (\"h\"), but p.txt has 5 prompts; the file was scored on another prompt list: use another --out", past.Message);
    }

    [Fact]
    public void DuplicatedRowsAreCountedAndOneIsNamed()
    {
        var e = Assert.Throws<DejaException>(() => ScoresResume.Plan([(0, "a"), (1, "b"), (1, "b"), (2, "c"), (1, "b"), (2, "c")], Prompts, 5, "s.jsonl", "p.txt"));
        Assert.Equal("s.jsonl has 6 rows but 3 prompts: 3 duplicated row(s), e.g. prompt 1 (\"b\") 3 times; " +
                     "a score file holds one row per prompt, so remove the duplicates or use another --out", e.Message);
    }
}
