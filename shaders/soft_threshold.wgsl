// Soft-thresholding, the proximal operator of t·|x|: sign(x) · max(|x| − t, 0).
// This function is prepended to every kernel that shrinks (the elementwise map and the
// batched FISTA solver), so the rule lives in one place.
fn soft_threshold(x: f32, t: f32) -> f32 {
    return sign(x) * max(abs(x) - t, 0.0);
}
