// Count, mean and sum of squared deviations (M2) of a set of values: Welford's update for one
// value, Chan et al.'s merge of two sets, and the merge over a workgroup by a tree in workgroup
// memory (every thread gets the result; call it from uniform control flow: it holds barriers).
// Counts are f32, exact up to 2^24 values per set.
struct Moments {
    n: f32,
    mean: f32,
    m2: f32,
}

fn moments_add(a: Moments, v: f32) -> Moments {
    let n = a.n + 1.0;
    let d = v - a.mean;
    let mean = a.mean + d / n;
    return Moments(n, mean, a.m2 + d * (v - mean));
}

fn moments_merge(a: Moments, b: Moments) -> Moments {
    let n = a.n + b.n;
    if (n == 0.0) {
        return a;
    }
    let d = b.mean - a.mean;
    let f = b.n / n;
    return Moments(n, a.mean + d * f, a.m2 + b.m2 + d * d * a.n * f);
}

var<workgroup> moments_tree: array<Moments, {{ workgroup_size }}>;

fn workgroup_moments(value: Moments, tid: u32) -> Moments {
    moments_tree[tid] = value;
    workgroupBarrier();
    for (var stride = {{ workgroup_size }}u / 2u; stride > 0u; stride = stride / 2u) {
        if (tid < stride) {
            moments_tree[tid] = moments_merge(moments_tree[tid], moments_tree[tid + stride]);
        }
        workgroupBarrier();
    }
    let total = moments_tree[0];
    workgroupBarrier();
    return total;
}
