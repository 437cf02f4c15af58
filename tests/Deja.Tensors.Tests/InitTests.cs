using Deja.Tensors.Nn;

namespace Deja.Tensors.Tests;

public class InitTests
{
    [Fact]
    public void SkipScopeNestsAndEnds()
    {
        Assert.False(Init.Skipping);
        using (Init.Skip())
        {
            using (Init.Skip()) Assert.True(Init.Skipping);
            Assert.True(Init.Skipping);
        }
        Assert.False(Init.Skipping);
    }

    [Fact]
    public void LayersDrawSeededValuesOutsideSkip()
    {
        var a = new Linear(7, 5, init: new Generator(3));
        var b = new Linear(7, 5, init: new Generator(3));
        Assert.Equal(a.Weight.ToArray(), b.Weight.ToArray());
        float bound = 1f / MathF.Sqrt(7);
        Assert.All(a.Weight.ToArray(), v => Assert.InRange(v, -bound, bound));
        Assert.Contains(a.Weight.ToArray(), v => v != 0);
        using (Init.Skip())
        {
            var c = new Linear(7, 5);
            Assert.Equal(new[] { 5, 7 }, c.Weight.Shape); // shape right, contents left for the loader
        }
    }
}
