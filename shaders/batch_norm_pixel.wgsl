// Where a thread of a per-pixel batch-norm kernel works on [B, C, P] (P in elems): (element,
// channel), or an element ≥ B·C·P when it has none. On GPUs (FLAT) a flat grid folded into y
// past 65,535 workgroups, the channel (idx / P) mod C, so that small planes fill the lanes; on
// software adapters a row of workgroups per plane, (ceil(P / WG), C, B): the channel and the
// image are those of the workgroup (llvmpipe runs a division by a variable one lane at a time).
const FLAT: bool = {{ flat }};

fn pixel_at(gid: vec3<u32>, wid: vec3<u32>, nwg: vec3<u32>, batch: u32, channels: u32, plane: u32) -> vec2<u32> {
    if (FLAT) {
        let idx = gid.x + gid.y * nwg.x * {{ workgroup_size }}u;
        return vec2<u32>(idx, (idx / plane) % channels);
    }
    if (gid.x >= plane) {
        return vec2<u32>(batch * channels * plane, 0u);
    }
    return vec2<u32>((wid.z * channels + wid.y) * plane + gid.x, wid.y);
}
