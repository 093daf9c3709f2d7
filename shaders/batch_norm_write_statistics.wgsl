// Writes channel c's batch statistics from its mean and biased variance over n = B·P values:
// stats[0, c] = mean, stats[1, c] = variance, and the running statistics moved towards them,
// mean_out[c] = (1 − m)·running_mean + m·mean, var_out[c] = (1 − m)·running_var +
// m·n/(n − 1)·variance (unbiased, as PyTorch). The program declares stats, running_mean,
// running_var, mean_out and var_out.
fn write_statistics(c: u32, channels: u32, mean: f32, variance: f32, count: u32, momentum: f32) {
    var unbiased = 1.0;
    if (count > 1u) {
        unbiased = f32(count) / f32(count - 1u);
    }
    stats[c] = mean;
    stats[channels + c] = variance;
    mean_out[c] = (1.0 - momentum) * running_mean[c] + momentum * mean;
    var_out[c] = (1.0 - momentum) * running_var[c] + momentum * unbiased * variance;
}
