using Deja.Diffusion.Images;

namespace Deja.Memorization.Fuzzing;

/// <summary>
/// Seed PNGs: Deja's own writer (8-bit gray, gray+alpha, RGB, RGBA) and ImageMagick's files from
/// testdata/images (4-bit palette, 16-bit RGB, Adam7-interlaced, gray with ancillary chunks), embedded so
/// the fuzzer needs no files.
/// </summary>
internal static class PngSeeds
{
    static readonly Dictionary<string, string> ImageMagick = new()
    {
        ["palette4"] = "iVBORw0KGgoAAAANSUhEUgAAAA0AAAAHBAMAAAAhXtopAAAABGdBTUEAALGPC/xhBQAAACBjSFJNAAB6JgAAgIQAAPoAAACA6AAAdTAAAOpgAAA6mAAAF3CculE8AAAAJ1BMVEXGtc+Xl6JzjXGcgnaaYoyIVVluYYlrVVxMQyVRLU0ZCg5SIB////8Q9BrcAAAAAWJLR0QMgbNRYwAAAAd0SU1FB+oLFgcjDiX35/UAAAA+SURBVAjXY2BgEBQUYGBgYBQUUjJwYWAISzMvDwt3YGivnFFeGW7AsGrFit27uycwrFq1avWuXQtANBAsAAB8GRQ31DzHAQAAACV0RVh0ZGF0ZTpjcmVhdGUAMjAyNi0xMS0yMlQwNzozNToxNCswMDowMKUpvVgAAAAldEVYdGRhdGU6bW9kaWZ5ADIwMjYtMTEtMjJUMDc6MzU6MTQrMDA6MDDUdAXkAAAAAElFTkSuQmCC",
        ["rgb16"] = "iVBORw0KGgoAAAANSUhEUgAAAA0AAAAHEAIAAAAMgowOAAAABGdBTUEAALGPC/xhBQAAACBjSFJNAAB6JgAAgIQAAPoAAACA6AAAdTAAAOpgAAA6mAAAF3CculE8AAAABmJLR0T///////8JWPfcAAAAB3RJTUUH6gsWByMOJffn9QAAAeNJREFUKM8twV9PslAcAODf4Z+gAwwRhZA116o11k2tD9vnaOsbdFFdaMvmFkkaOY4eEhABSeC9eZ8H3d8vl09PkhRFZ2dpqqoYIzSZPD563mKhqoRU1c9PWR4OqmqaPI8xQlHU7WpaVd3csKxhJImmZVm/3+9bFk2jyeTu7uFhPMY4jgmR5SRpNhXFNAnZbh2n0wmCr6/pVBAOB47bbABOTxmG425vGw3bdl1CgiDPT066XVVtta6uaE1br5vNui4KgPHYcfI8CJbL9/ejo+9vnp/NCBmN8vzlZbczzSRxXYyThOdfXxHiuCxbreJ4OnWc2SyKRHG1onn+8pKiXLeq8hyA4xDabJ6fPz/DcDrFOE1Z9uNDUSwLwPfjWNeD4Pd3t0uSJJlMeP5wiCKAINhuWVYURyPU6ciyYeQ5RbGsrlvWYMAwstxqtVq+//aWpgAMMxgUxd+fbUuSYbiu50URzw+HNO37sux5dZ2moigIYXhxgXo9QQDAmGEAVHW77XQ4DiAIwvD4GICiKEoQbLssh8NeD+OiIKQsi2I+ByjL6+t22/Pm8zAUxfWa4zQNIQQA0GwCANA0TbfbcawoYQiwXsN/koQQwPl5Xet6WTYahJTlfs8wdQ2QZWEI0GgsFgD7/T/LhAf9gTKUrQAAACV0RVh0ZGF0ZTpjcmVhdGUAMjAyNi0xMS0yMlQwNzozNToxNCswMDowMKUpvVgAAAAldEVYdGRhdGU6bW9kaWZ5ADIwMjYtMTEtMjJUMDc6MzU6MTQrMDA6MDDUdAXkAAAAAElFTkSuQmCC",
        ["rgb8_interlaced"] = "iVBORw0KGgoAAAANSUhEUgAAAA0AAAAHCAIAAAErFWDbAAAABGdBTUEAALGPC/xhBQAAACBjSFJNAAB6JgAAgIQAAPoAAACA6AAAdTAAAOpgAAA6mAAAF3CculE8AAAABmJLR0QA/wD/AP+gvaeTAAAAB3RJTUUH6gsWByMOJffn9QAAASdJREFUGNMFwd1KwmAYAOD31c+5ubZp0+ZfpmZlYBb94UHHkRfSfXgXQdBJNyBRUKd5FB2EEqFJ5MTQht/a1Iluueh58K7/bFRVuLq+pTUdZSmeVjBFA3MliQ/D95eb11JoE3O7J9nR5+/6GCul8150Iy+STu8pnBQliC+2BUAA0RsEABFh3+8rAgAA1prmTKvWVTtGXMUoJ0JLpF65aHOmz22T6aiVsezHPvKhtdWdPH63ymxkwFgD3wh5gGkEYAhHEHPANOAP3y7vG9qYSlZgOUknH7KutrgFY0COMMf+Qofq83QkzBfx7PSQMBmeTdgNVbBY2GpGU7JFY7OZjYKR8orOj0fYo6hwoBEIT2QGdDMBHg9XcLOK5lDX6YJ7EPzqmsKQWfkHtpxzA6d889YAAAAldEVYdGRhdGU6Y3JlYXRlADIwMjYtMTEtMjJUMDc6MzU6MTQrMDA6MDClKb1YAAAAJXRFWHRkYXRlOm1vZGlmeQAyMDI2LTExLTIyVDA3OjM1OjE0KzAwOjAw1HQF5AAAAABJRU5ErkJggg==",
        ["gray8"] = "iVBORw0KGgoAAAANSUhEUgAAAA0AAAAHCAAAAAD2G5jGAAAABGdBTUEAALGPC/xhBQAAAAJiS0dEAP+Hj8y/AAAAB3RJTUUH6gsWByMOJffn9QAAAG1JREFUCNcBYgCd/wHZ+wre5vj+CvcHEwAbAajlBRHw9P71CxTpFw8D9vzc5/Dn2fvz+O3bBQMg9gTU3v4Z8+7y/fEHARAAHQzu/wEV5BsD+vkBC/78ABACCvT5+RXvAQEAAgQJ8QADCgP6//36JJ8xgiZNMLEAAAAldEVYdGRhdGU6Y3JlYXRlADIwMjYtMTEtMjJUMDc6MzU6MTQrMDA6MDClKb1YAAAAJXRFWHRkYXRlOm1vZGlmeQAyMDI2LTExLTIyVDA3OjM1OjE0KzAwOjAw1HQF5AAAAABJRU5ErkJggg==",
    };

    public static List<byte[]> All()
    {
        var seeds = new List<byte[]>();
        for (int channels = 1; channels <= 4; channels++)
        {
            var image = new Image(7, 5, channels);
            for (int i = 0; i < image.Pixels.Length; i++) image.Pixels[i] = (byte)(i * 37 + channels);
            using var stream = new MemoryStream();
            Png.Write(stream, image);
            seeds.Add(stream.ToArray());
        }
        seeds.AddRange(ImageMagick.Values.Select(Convert.FromBase64String));
        return seeds;
    }
}
