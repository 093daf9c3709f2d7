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

// Walks the B·P elements of one channel of a [B, C, P] buffer, WG elements apart, starting at
// a given element, without a division per step (llvmpipe runs integer division one lane at a time).
struct ChannelWalk {
    b: u32,
    p: u32,
    step_b: u32,
    step_p: u32,
}

// A walk that starts at element e of the channel.
fn walk_from(e: u32, plane: u32) -> ChannelWalk {
    let wg = {{ workgroup_size }}u;
    return ChannelWalk(e / plane, e % plane, wg / plane, wg % plane);
}

// Flat index of the walk's current element of channel c.
fn walk_index(w: ChannelWalk, c: u32, channels: u32, plane: u32) -> u32 {
    return (w.b * channels + c) * plane + w.p;
}

fn walk_next(w: ChannelWalk, plane: u32) -> ChannelWalk {
    var next = w;
    next.b = w.b + w.step_b;
    next.p = w.p + w.step_p;
    if (next.p >= plane) {
        next.p = next.p - plane;
        next.b = next.b + 1u;
    }
    return next;
}

// What thread tid of workgroup (k, c) of a launch over chunks × channels walks: chunk k of
// channel c of [B, C, P], elements k·L … (k + 1)·L − 1 of its B·P, from `start` (its first)
// to `end`, WG apart; `sizes` is [B, C, P, L].
struct Chunk {
    channels: u32,
    plane: u32,
    count: u32,
    start: u32,
    end: u32,
}

fn chunk_of(sizes: vec4<u32>, k: u32, tid: u32) -> Chunk {
    let count = sizes.x * sizes.z;
    return Chunk(sizes.y, sizes.z, count, k * sizes.w + tid, min((k + 1u) * sizes.w, count));
}
