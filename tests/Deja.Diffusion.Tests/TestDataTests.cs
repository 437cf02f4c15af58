namespace Deja.Diffusion.Tests;

public class TestDataTests
{
    [Fact]
    public void GoldenFolderIsPresent()
    {
        Assert.True(File.Exists(TestData.Golden("manifest.json")));
        Assert.True(Directory.Exists(TestData.Golden("tiny-sd1", "unet")));
    }
}
