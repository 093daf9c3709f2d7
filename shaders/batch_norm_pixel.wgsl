// Where a thread of a per-pixel batch-norm kernel works on [B, C, P] (P in elems), on software
// adapters: a row of workgroups per plane, (ceil(P / WG), C, B), so the channel and the image
// are those of the workgroup (llvmpipe runs a division by a variable one lane at a time).
// Returns (element, channel), or an element ≥ B·C·P when the thread has none.
fn pixel_at(gid: vec3<u32>, wid: vec3<u32>, nwg: vec3<u32>, batch: u32, channels: u32, plane: u32) -> vec2<u32> {
    if (gid.x >= plane) {
        return vec2<u32>(batch * channels * plane, 0u);
    }
    return vec2<u32>((wid.z * channels + wid.y) * plane + gid.x, wid.y);
}
