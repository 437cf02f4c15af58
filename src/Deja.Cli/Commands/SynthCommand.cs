using System.CommandLine;
using System.Diagnostics;
using Deja.Diffusion.Data;
using Deja.Tensors;

namespace Deja.Cli;

/// <summary>`deja synth`: the synthetic captioned dataset with planted memorization that deja-mini is trained on.</summary>
public static class SynthCommand
{
    static readonly SynthOptions Defaults = new();

    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Folder to create (refused if it exists and is not empty, unless --force)", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Seed: the same seed gives the same bytes", DefaultValueFactory = _ => 0UL };
        var size = new Option<int>("--size") { Description = "Image side in pixels", DefaultValueFactory = _ => Defaults.Size };
        var verbatim = new Option<int>("--verbatim") { Description = "Verbatim-memorized images", DefaultValueFactory = _ => Defaults.Verbatim };
        var repeats = new Option<int>("--verbatim-repeats") { Description = "Copies of each verbatim image in the training data", DefaultValueFactory = _ => Defaults.VerbatimRepeats };
        var templates = new Option<int>("--templates") { Description = $"Template brands (at most {SynthOptions.Brands.Length})", DefaultValueFactory = _ => Defaults.Templates };
        var templateImages = new Option<int>("--template-images") { Description = "Images per brand", DefaultValueFactory = _ => Defaults.TemplateImages };
        var templateRepeats = new Option<int>("--template-repeats") { Description = "Copies of each template image in the training data", DefaultValueFactory = _ => Defaults.TemplateRepeats };
        var patternBlock = new Option<int>("--pattern-block") { Description = "Side in pixels of a brand pattern's blocks", DefaultValueFactory = _ => Defaults.PatternBlock };
        var diverse = new Option<int>("--diverse") { Description = "Unique diverse images", DefaultValueFactory = _ => Defaults.Diverse };
        var heldout = new Option<int>("--heldout") { Description = "Held-out captions", DefaultValueFactory = _ => Defaults.Heldout };
        var force = new Option<bool>("--force") { Description = "Replace an existing folder" };
        var cmd = new Command("synth", "Create a synthetic captioned image dataset with planted memorization\n\nExample: deja synth --out synth-data --seed 0")
        {
            output, seed, size, verbatim, repeats, templates, templateImages, templateRepeats, patternBlock, diverse, heldout, force,
        };
        cmd.SetAction(pr =>
        {
            var options = new SynthOptions
            {
                Size = pr.GetValue(size), Verbatim = pr.GetValue(verbatim), VerbatimRepeats = pr.GetValue(repeats), Templates = pr.GetValue(templates),
                TemplateImages = pr.GetValue(templateImages), TemplateRepeats = pr.GetValue(templateRepeats), PatternBlock = pr.GetValue(patternBlock), Diverse = pr.GetValue(diverse), Heldout = pr.GetValue(heldout),
            };
            OutputPath.CheckFolder(pr.GetValue(output)!, "--out");
            var clock = Stopwatch.StartNew();
            Progress? bar = null;
            SyntheticDataset.Create(pr.GetValue(output)!, pr.GetValue(seed), options, pr.GetValue(force), (done, total) =>
            {
                bar ??= new Progress("synth", total);
                bar.Report(done);
            });
            long bytes = new DirectoryInfo(pr.GetValue(output)!).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
            Console.Error.WriteLine($"deja synth: {pr.GetValue(output)}: {options.Verbatim} verbatim images × {options.VerbatimRepeats} repeats, " +
                $"{options.Templates} templates × {options.TemplateImages} images × {options.TemplateRepeats} repeats, {options.Diverse} diverse, {options.Heldout} held-out captions; " +
                $"{bytes / 1e6:F1} MB in {clock.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return cmd;
    }
}
