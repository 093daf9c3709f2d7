// Soft-thresholding, the proximal operator of t·|x|: sign(x) · max(|x| − t, 0), with the sign
// and NaN taken from x's bits: a NaN x comes back with its own bits (SPIR-V leaves `max` and
// `sign` of NaN undefined, and NVIDIA's drivers return the other operand, which would turn a
// NaN into 0 and hide it), and a shrunk value keeps x's sign (−0 for a negative x).
// This function is prepended to every kernel that shrinks (the elementwise map and the
// batched FISTA solver), so the rule lives in one place.
fn soft_threshold(x: f32, t: f32) -> f32 {
    let bits = bitcast<u32>(x);
    let magnitude = bitcast<f32>(bits & 0x7FFFFFFFu) - t;
    let shrunk = select(0.0, magnitude, magnitude > 0.0);
    let signed = bitcast<f32>(bitcast<u32>(shrunk) | (bits & 0x80000000u));
    let nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
    return select(signed, x, nan);
}
