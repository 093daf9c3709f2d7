// Sizes of one depthwise convolution, read from `params`:
// [B, C, H, W, H', W', k, stride, padding, dilation].
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

fn depthwise_sizes() -> Depthwise {
    return Depthwise(params[0].x, params[0].y, params[0].z, params[0].w, params[1].x, params[1].y, params[1].z,
        i32(params[1].w), i32(params[2].x), i32(params[2].y));
}

// Input coordinate read by output coordinate o through tap t (may lie outside 0..n).
fn tap_input(o: u32, t: u32, g: Depthwise) -> i32 {
    return i32(o) * g.stride + i32(t) * g.dilation - g.padding;
}
