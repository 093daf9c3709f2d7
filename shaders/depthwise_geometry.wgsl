// Sizes of one depthwise convolution: [B, C, H, W, H', W'] read from `params`, the geometry
// [k, stride, padding, dilation] compiled in.
struct Depthwise {
    batch: u32,
    channels: u32,
    h: u32,
    w: u32,
    oh: u32,
    ow: u32,
    k: u32,
    stride: i32,
    padding: i32,
    dilation: i32,
}

// The kernel's geometry (k, stride, padding, dilation) is compiled into each program, so the
// tap loops have constant bounds and offsets; the tensor sizes come from `params`.
fn depthwise_sizes() -> Depthwise {
    return Depthwise(params[0].x, params[0].y, params[0].z, params[0].w, params[1].x, params[1].y,
        {{ kernel }}u, {{ stride }}, {{ padding }}, {{ dilation }});
}

// Input coordinate read by output coordinate o through tap t (may lie outside 0..n).
fn tap_input(o: u32, t: u32, g: Depthwise) -> i32 {
    return i32(o) * g.stride + i32(t) * g.dilation - g.padding;
}

// The op's ReLU, applied to the input as it is loaded when compiled in ({{ relu }}): whether ReLU
// lets v through (v > 0, or NaN, which Burn's ReLU passes on), tested by its bits as in
// shaders/relu.wgsl.
fn passes_relu(v: f32) -> bool {
    let bits = bitcast<u32>(v);
    return !{{ relu }} || (bits - 1u) < 0x7F800000u || (bits & 0x7FFFFFFFu) > 0x7F800000u;
}

// The input value the convolution reads: ReLU(v) when compiled in, else v.
fn input_value(v: f32) -> f32 {
    return select(0.0, v, passes_relu(v));
}
