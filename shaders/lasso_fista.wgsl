// Batched LASSO: z = argmin ½‖A z − b‖² + λ‖z‖₁ for P problems at once.
// One workgroup solves one problem; FISTA (with adaptive restart) runs in workgroup memory.
// Problems are zero-padded to M × N (exact: padded rows and columns change nothing).
// The prox step is soft_threshold (shaders/soft_threshold.wgsl).
//
// Resumable: the iterate lives in `state`, and one dispatch runs at most `chunk` iterations
// of every unfinished problem. Bounded dispatches keep clear of driver watchdogs and of
// llvmpipe's budget of 65,535 loop iterations per invocation (shared by all loops, after
// which every loop silently exits); the host queues dispatches until all problems finish.
//
// f32 FISTA stalls on ill-conditioned A (its updates fall below f32 resolution), so at the
// end of each chunk the optimality system on the iterate's support is solved exactly
// (Householder QR of A_T, as src/sparse/active_set.rs); the problem is done when that
// solution meets the KKT conditions to kkt_tol (in units of λ): a certificate, not a guess.
// Every invocation runs the (tiny) polish redundantly in private memory, so nothing
// diverges around the barriers.
//
// Bindings:
//   a       [P, M, N]      row-major measurement matrices
//   b       [P, M]         measurements
//   lip     [P]            Lipschitz constants ‖A‖₂² (computed on the host)
//   params  [6]            P, max_iter, bits(λ), bits(step_tol), bits(kkt_tol), chunk
//   state   [P, 2N + 3]    x, y, t, iterations, status
// status: 0 running, 1 stalled (f32 fixed point: max|Δx| ≤ step_tol·max|x|),
//         2 KKT-certified optimum, 3 iteration cap.

const M: u32 = {{ m }}u;
const N: u32 = {{ n }}u;
const WG: u32 = {{ workgroup_size }}u;
const PER_THREAD: u32 = (N + WG - 1u) / WG;
const POLISH: bool = {{ polish }};         // only for M ≤ 32: the QR lives in workgroup memory
const PM: u32 = {{ polish_rows }}u;        // M when polishing, else 1
const STRIDE: u32 = 2u * N + 3u;

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> lip: array<f32>;
@group(0) @binding(3) var<storage, read_write> params: array<u32>;
@group(0) @binding(4) var<storage, read_write> state: array<f32>;

var<workgroup> y: array<f32, N>;        // extrapolated point
var<workgroup> r: array<f32, M>;        // residual A y − b
var<workgroup> red_step: array<f32, WG>;
var<workgroup> red_size: array<f32, WG>;
var<workgroup> red_dot: array<f32, WG>;
var<workgroup> problem_count: u32;
var<workgroup> problem_status: u32;
var<workgroup> stop: u32;
var<workgroup> xs: array<f32, N>;       // the iterate, shared for polishing and the final write
var<private> qr: array<f32, PM * PM>;   // A_T, then its R factor (stride PM)
var<private> qb: array<f32, PM>;        // b, then Qᵀb
var<private> hv: array<f32, PM>;        // Householder vector
var<private> sel: array<u32, PM>;       // T
var<private> sgn: array<f32, PM>;       // signs on T
var<private> zt: array<f32, PM>;        // solution on T
var<private> uu: array<f32, PM>;        // R⁻ᵀ λσ
var<private> sel_count: u32;            // |T|

// Try the exact minimiser on the support of xs; true when it meets the KKT conditions,
// with T in sel[0..sel_count] and the values in zt. Reads xs, writes private memory only.
fn polish(base_a: u32, base_b: u32, lambda: f32, kkt_tol: f32) -> bool {
    // T: the non-zeros of xs, at most M, largest |x| first (ties: lower index).
    var count = 0u;
    var prev_v = 3.0e38;
    var prev_k = 0u;
    for (var c = 0u; c < PM; c = c + 1u) {
        var best_v = 0.0;
        var best_k = N;
        for (var k = 0u; k < N; k = k + 1u) {
            let v = abs(xs[k]);
            let after = v < prev_v || (v == prev_v && k > prev_k && c > 0u);
            if (v > 0.0 && after && (v > best_v || (v == best_v && k < best_k))) {
                best_v = v;
                best_k = k;
            }
        }
        if (best_k < N && count == c) {
            sel[c] = best_k;
            sgn[c] = sign(xs[best_k]);
            prev_v = best_v;
            prev_k = best_k;
            count = count + 1u;
        }
    }
    for (var i = 0u; i < M; i = i + 1u) {
        qb[i] = b[base_b + i];
        for (var c = 0u; c < count; c = c + 1u) {
            qr[i * PM + c] = a[base_a + i * N + sel[c]];
        }
    }
    var ok = true;
    for (var j = 0u; j < count; j = j + 1u) {
        var norm_sq = 0.0;
        for (var i = j; i < M; i = i + 1u) {
            norm_sq = norm_sq + qr[i * PM + j] * qr[i * PM + j];
        }
        ok = ok && norm_sq > 0.0;
        let alpha = select(sqrt(norm_sq), -sqrt(norm_sq), qr[j * PM + j] >= 0.0);
        var v_sq = 0.0;
        for (var i = j; i < M; i = i + 1u) {
            hv[i] = qr[i * PM + j];
            if (i == j) {
                hv[i] = hv[i] - alpha;
            }
            v_sq = v_sq + hv[i] * hv[i];
        }
        v_sq = max(v_sq, 1.17549435e-38); // the smallest normal f32: subnormals flush to zero on Metal and NVIDIA
        for (var c = j; c < count; c = c + 1u) {
            var dot = 0.0;
            for (var i = j; i < M; i = i + 1u) {
                dot = dot + hv[i] * qr[i * PM + c];
            }
            let f = 2.0 * dot / v_sq;
            for (var i = j; i < M; i = i + 1u) {
                qr[i * PM + c] = qr[i * PM + c] - f * hv[i];
            }
        }
        var dot_b = 0.0;
        for (var i = j; i < M; i = i + 1u) {
            dot_b = dot_b + hv[i] * qb[i];
        }
        let f_b = 2.0 * dot_b / v_sq;
        for (var i = j; i < M; i = i + 1u) {
            qb[i] = qb[i] - f_b * hv[i];
        }
    }
    // Rᵀu = λσ, then R z = (Qᵀb)_T − u; every sign must hold.
    for (var j = 0u; j < count; j = j + 1u) {
        var acc = lambda * sgn[j];
        for (var i = 0u; i < j; i = i + 1u) {
            acc = acc - qr[i * PM + j] * uu[i];
        }
        uu[j] = select(0.0, acc / qr[j * PM + j], ok);
    }
    for (var jj = 0u; jj < count; jj = jj + 1u) {
        let j = count - 1u - jj;
        var acc = qb[j] - uu[j];
        for (var i = j + 1u; i < count; i = i + 1u) {
            acc = acc - qr[j * PM + i] * zt[i];
        }
        zt[j] = select(0.0, acc / qr[j * PM + j], ok);
        ok = ok && zt[j] * sgn[j] > 0.0;
    }
    // KKT with r = b − A_T z_T: c_k = λσ_k on T, |c_k| ≤ λ off T.
    for (var i = 0u; i < M; i = i + 1u) {
        var acc = b[base_b + i];
        for (var c = 0u; c < count; c = c + 1u) {
            acc = acc - a[base_a + i * N + sel[c]] * zt[c];
        }
        hv[i] = acc;
    }
    for (var k = 0u; k < N; k = k + 1u) {
        var corr = 0.0;
        for (var i = 0u; i < M; i = i + 1u) {
            corr = corr + a[base_a + i * N + k] * hv[i];
        }
        var violation = max(abs(corr) - lambda, 0.0);
        for (var c = 0u; c < count; c = c + 1u) {
            if (sel[c] == k) {
                violation = abs(corr - lambda * sgn[c]);
            }
        }
        ok = ok && violation <= kkt_tol * lambda;
    }
    sel_count = count;
    return ok;
}

@compute @workgroup_size({{ workgroup_size }}, 1, 1)
fn main(@builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    if (lid == 0u) {
        problem_count = params[0];
    }
    let count = workgroupUniformLoad(&problem_count);
    let p = wid.x + wid.y * nwg.x;
    if (p >= count) {
        return;
    }
    let base_s = p * STRIDE;
    if (lid == 0u) {
        problem_status = u32(state[base_s + 2u * N + 2u]);
    }
    if (workgroupUniformLoad(&problem_status) != 0u) {
        return;
    }
    let max_iter = params[1];
    let lambda = bitcast<f32>(params[2]);
    let tol = bitcast<f32>(params[3]);
    let kkt_tol = bitcast<f32>(params[4]);
    let chunk = params[5];
    let step = 1.0 / lip[p];
    let base_a = p * M * N;
    let base_b = p * M;

    var x: array<f32, PER_THREAD>;      // this thread's coordinates of the iterate
    for (var c = 0u; c < PER_THREAD; c = c + 1u) {
        x[c] = 0.0;
        let k = lid + c * WG;
        if (k < N) {
            x[c] = state[base_s + k];
            y[k] = state[base_s + N + k];
            xs[k] = x[c];
        }
    }
    var t = state[base_s + 2u * N];
    var it = u32(state[base_s + 2u * N + 1u]);
    var steps = 0u;
    workgroupBarrier();
    loop {
        // r = A y − b
        for (var j = lid; j < M; j = j + WG) {
            var acc = -b[base_b + j];
            for (var k = 0u; k < N; k = k + 1u) {
                acc = acc + a[base_a + j * N + k] * y[k];
            }
            r[j] = acc;
        }
        workgroupBarrier();
        // x⁺ = soft(y − step · Aᵀ r, step · λ), and the pieces of the stopping and restart tests
        var x_new: array<f32, PER_THREAD>;
        var d_step = 0.0;
        var d_size = 0.0;
        var d_dot = 0.0;
        for (var c = 0u; c < PER_THREAD; c = c + 1u) {
            let k = lid + c * WG;
            x_new[c] = 0.0;
            if (k < N) {
                var g = 0.0;
                for (var j = 0u; j < M; j = j + 1u) {
                    g = g + a[base_a + j * N + k] * r[j];
                }
                let xn = soft_threshold(y[k] - step * g, step * lambda);
                x_new[c] = xn;
                d_step = max(d_step, abs(xn - x[c]));
                d_size = max(d_size, abs(xn));
                d_dot = d_dot + (y[k] - xn) * (xn - x[c]);
            }
        }
        red_step[lid] = d_step;
        red_size[lid] = d_size;
        red_dot[lid] = d_dot;
        workgroupBarrier();
        for (var s = WG / 2u; s > 0u; s = s / 2u) {
            if (lid < s) {
                red_step[lid] = max(red_step[lid], red_step[lid + s]);
                red_size[lid] = max(red_size[lid], red_size[lid + s]);
                red_dot[lid] = red_dot[lid] + red_dot[lid + s];
            }
            workgroupBarrier();
        }
        let total_step = red_step[0];
        let total_size = red_size[0];
        // Adaptive restart (O'Donoghue & Candès): drop momentum when it points uphill.
        var beta = 0.0;
        if (red_dot[0] > 0.0) {
            t = 1.0;
        } else {
            let t_next = 0.5 * (1.0 + sqrt(1.0 + 4.0 * t * t));
            beta = (t - 1.0) / t_next;
            t = t_next;
        }
        for (var c = 0u; c < PER_THREAD; c = c + 1u) {
            let k = lid + c * WG;
            if (k < N) {
                y[k] = x_new[c] + beta * (x_new[c] - x[c]);
                xs[k] = x_new[c];
            }
            x[c] = x_new[c];
        }
        it = it + 1u;
        steps = steps + 1u;
        let stalled = total_step <= tol * total_size;
        let last = stalled || it >= max_iter || steps >= chunk;
        workgroupBarrier();
        var certified = false;
        if (POLISH && last) {
            certified = polish(base_a, base_b, lambda, kkt_tol);
        }
        workgroupBarrier();
        if (certified) {
            for (var c = 0u; c < PER_THREAD; c = c + 1u) {
                let k = lid + c * WG;
                if (k < N) {
                    var v = 0.0;
                    for (var j = 0u; j < sel_count; j = j + 1u) {
                        if (sel[j] == k) {
                            v = zt[j];
                        }
                    }
                    xs[k] = v;
                }
            }
        }
        if (lid == 0u) {
            stop = select(0u, 1u, last || certified);
            if (stop == 1u) {
                var status = 0u;
                if (it >= max_iter) {
                    status = 3u;
                }
                if (stalled) {
                    status = 1u;
                }
                if (certified) {
                    status = 2u;
                }
                state[base_s + 2u * N] = t;
                state[base_s + 2u * N + 1u] = f32(it);
                state[base_s + 2u * N + 2u] = f32(status);
            }
        }
        if (workgroupUniformLoad(&stop) == 1u) {
            break;
        }
    }
    for (var c = 0u; c < PER_THREAD; c = c + 1u) {
        let k = lid + c * WG;
        if (k < N) {
            state[base_s + k] = xs[k];
            state[base_s + N + k] = y[k];
        }
    }
}
