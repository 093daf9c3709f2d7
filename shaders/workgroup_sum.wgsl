// Sum of one value per thread over the workgroup, by a tree in workgroup memory; every thread
// gets the total. Call it from uniform control flow (it holds barriers).
var<workgroup> partial_sums: array<f32, {{ workgroup_size }}>;

fn workgroup_sum(value: f32, tid: u32) -> f32 {
    partial_sums[tid] = value;
    workgroupBarrier();
    for (var stride = {{ workgroup_size }}u / 2u; stride > 0u; stride = stride / 2u) {
        if (tid < stride) {
            partial_sums[tid] = partial_sums[tid] + partial_sums[tid + stride];
        }
        workgroupBarrier();
    }
    let total = partial_sums[0];
    workgroupBarrier();
    return total;
}

// Flat index of element i (of B·P) of channel c in a [B, C, P] buffer.
fn channel_element(i: u32, c: u32, channels: u32, plane: u32) -> u32 {
    let b = i / plane;
    return (b * channels + c) * plane + (i - b * plane);
}
