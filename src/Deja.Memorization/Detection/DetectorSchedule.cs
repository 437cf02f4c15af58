using Deja.Memorization.Models;
using Deja.Tensors;

namespace Deja.Memorization.Detection;

/// <summary>
/// The DDIM schedule a detector runs on. The detectors fix their step count (50, as the reference
/// code), so the user never gives it: when the model's scheduler has fewer training timesteps than
/// that, the message names the scheduler, not a "steps" parameter the user cannot see.
/// </summary>
internal static class DetectorSchedule
{
    public static int[] Timesteps(IDiffusionModelView model, string method, int steps)
    {
        int trained = model.Scheduler.Schedule.TrainTimesteps;
        if (steps > trained)
            throw new DejaException($"{method}: the model {model.Name} has a scheduler with {trained} training timesteps " +
                $"(num_train_timesteps in its scheduler config), fewer than the {steps} DDIM steps {method} detection runs on; this model cannot be scored with {method}");
        return model.Scheduler.Timesteps(steps);
    }
}
