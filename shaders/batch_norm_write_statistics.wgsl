// Writes channel c's batch statistics from its mean and biased variance over n = B·P values:
// stats[0, c] = mean, stats[1, c] = variance, and the running statistics moved towards them,
// stats[2, c] = (1 − m)·running_mean + m·mean, stats[3, c] = (1 − m)·running_var +
// m·n/(n − 1)·variance (unbiased, as PyTorch). The program declares stats, running_mean and
// running_var.
fn write_statistics(c: u32, channels: u32, mean: f32, variance: f32, count: u32, momentum: f32) {
    var unbiased = 1.0;
    if (count > 1u) {
        unbiased = f32(count) / f32(count - 1u);
    }
    stats[c] = mean;
    stats[channels + c] = variance;
    stats[2u * channels + c] = (1.0 - momentum) * running_mean[c] + momentum * mean;
    stats[3u * channels + c] = (1.0 - momentum) * running_var[c] + momentum * unbiased * variance;
}
