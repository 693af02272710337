//! Custom ONNX operators the split decoder uses (domain [`DOMAIN`]).
//!
//! `Snake(x, alpha, inv_alpha) = x + inv_alpha · sin²(alpha · x)`, per channel of
//! `x [N, C, T]` (`alpha`, `inv_alpha` of shape `[1, C, 1]`), is the activation of every
//! residual block of Kokoro's vocoder. Exported as five element-wise nodes (Mul, Sin, Pow,
//! Mul, Add) it is about a sixth of the decoder's time, most of it single-threaded `Sin`
//! sweeping a tensor of up to 128 channels × 120 samples per frame. Fused, it is one pass
//! over the tensor on the session's intra-op threads with a polynomial sin².
//!
//! `AdaIN(x, gain, bias) = (x − mean) / sqrt(var + epsilon) · gain + bias`, mean and variance
//! over time per channel (`gain`, `bias`: `[1, C, 1]`, from the style vector), is the
//! instance normalization of every decoder and vocoder block, exported as nine nodes.
//!
//! `BiasScale(acc, bias, scale) = float(acc + bias) · scale` turns an int8 convolution's
//! int32 sums into floats (`bias`: int32 per channel, `scale`: one float): the three
//! element-wise nodes (Add, Cast, Mul) the dynamic quantization exports after each of the
//! decoder's `ConvInteger`s, in one pass.
//!
//! `vocalize/split.py` puts them in the decoder graph.

use std::sync::Arc;

use ort::operator::{BoxedKernel, ComputeContext, Kernel, KernelContext, Operator, OperatorDomain, OperatorInput, OperatorOutput};
use ort::value::TensorElementType;

/// The operator domain of vocalize's custom operators, as named in the decoder graph.
pub const DOMAIN: &str = "ai.vocalize";

/// The domain holding every custom operator, ready to give to a session builder.
pub fn domain() -> ort::Result<Arc<OperatorDomain>> {
    let domain = OPERATORS.iter().try_fold(OperatorDomain::new(DOMAIN)?, |domain, op| domain.add(op.clone()))?;
    Ok(Arc::new(domain))
}

/// Every operator takes `x [N, C, T]` and two per-channel (or single) values, and returns a
/// float tensor shaped as `x`; they differ in name, input types and kernel.
#[derive(Clone)]
struct Fused {
    name: &'static str,
    inputs: [TensorElementType; 3],
    kernel: for<'attr> fn(&KernelContext<'attr>) -> BoxedKernel<'attr>,
}

const FLOATS: [TensorElementType; 3] = [TensorElementType::Float32; 3];

const OPERATORS: [Fused; 3] = [
    Fused { name: "Snake", inputs: FLOATS, kernel: |_| Box::new(SnakeKernel) },
    Fused { name: "AdaIN", inputs: FLOATS, kernel: |ctx| Box::new(AdaInKernel { epsilon: ctx.get::<f32>("epsilon").unwrap_or(1e-5) }) },
    Fused {
        name: "BiasScale",
        inputs: [TensorElementType::Int32, TensorElementType::Int32, TensorElementType::Float32],
        kernel: |_| Box::new(BiasScaleKernel),
    },
];

impl Operator for Fused {
    type Kernel<'attr> = BoxedKernel<'attr>;

    fn name(&self) -> &str {
        self.name
    }

    fn inputs(&self) -> impl IntoIterator<Item = OperatorInput> {
        self.inputs.map(OperatorInput::required)
    }

    fn outputs(&self) -> impl IntoIterator<Item = OperatorOutput> {
        [OperatorOutput::required(TensorElementType::Float32)]
    }

    fn create_kernel<'attr>(&self, ctx: &KernelContext<'attr>) -> ort::Result<Self::Kernel<'attr>> {
        Ok((self.kernel)(ctx))
    }
}

struct SnakeKernel;

struct AdaInKernel {
    epsilon: f32,
}

impl Kernel for AdaInKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        let epsilon = self.epsilon;
        per_row(ctx, "AdaIN", move |x, gain, bias, y| adain_row(x, gain, bias, epsilon, y))
    }
}

/// One channel row of [`AdaIn`]: normalized over the row, then scaled and shifted.
pub fn adain_row(x: &[f32], gain: f32, bias: f32, epsilon: f32, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the features the function is compiled for were just detected.
            unsafe { adain_row_avx2(x, gain, bias, epsilon, y) };
            return;
        }
    }
    adain_row_generic(x, gain, bias, epsilon, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn adain_row_avx2(x: &[f32], gain: f32, bias: f32, epsilon: f32, y: &mut [f32]) {
    adain_row_generic(x, gain, bias, epsilon, y)
}

#[inline(always)]
fn adain_row_generic(x: &[f32], gain: f32, bias: f32, epsilon: f32, y: &mut [f32]) {
    let n = x.len().max(1) as f32;
    let mean = lanes_sum(x, |v| v) / n;
    let var = lanes_sum(x, |v| (v - mean) * (v - mean)) / n;
    let scale = gain / (var + epsilon).sqrt();
    for (y, &x) in y.iter_mut().zip(x) {
        *y = (x - mean) * scale + bias;
    }
}

/// The sum of `f` over `x` in 16 interleaved lanes (so it vectorizes, and rounds less than
/// one running sum).
#[inline(always)]
fn lanes_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    const LANES: usize = 16;
    let mut acc = [0f32; LANES];
    let mut blocks = x.chunks_exact(LANES);
    for block in &mut blocks {
        for (a, &v) in acc.iter_mut().zip(block) {
            *a += f(v);
        }
    }
    let rest: f32 = blocks.remainder().iter().map(|&v| f(v)).sum();
    acc.iter().sum::<f32>() + rest
}

struct BiasScaleKernel;

impl Kernel for BiasScaleKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        per_row(ctx, "BiasScale", bias_scale_row)
    }
}

/// `y = float(acc + bias) · scale` over one channel row: the int32 sum wraps as ONNX's Add
/// does, and is rounded to a float once, as by Cast, before the product.
pub fn bias_scale_row(acc: &[i32], bias: i32, scale: f32, y: &mut [f32]) {
    for (y, &a) in y.iter_mut().zip(acc) {
        *y = a.wrapping_add(bias) as f32 * scale;
    }
}

/// The output buffer, written by the intra-op threads at disjoint channel rows.
struct Rows(*mut f32);
unsafe impl Send for Rows {}
unsafe impl Sync for Rows {}

impl Kernel for SnakeKernel {
    fn compute(&mut self, ctx: &ComputeContext) -> ort::Result<()> {
        per_row(ctx, "Snake", snake_row)
    }
}

/// Runs `row(x_row, p, q, y_row)` for every channel row of input 0 (`[N, C, T]`) on the
/// session's intra-op threads, with `p` and `q` that row's values of inputs 1 and 2 (one per
/// channel, one per batch and channel, or one for all); output 0 is a float tensor shaped
/// as input 0.
fn per_row<X, P>(ctx: &ComputeContext, op: &str, row: impl Fn(&[X], P, f32, &mut [f32]) + Sync + Send) -> ort::Result<()>
where
    X: ort::value::PrimitiveTensorElementType + Sync + std::fmt::Debug,
    P: ort::value::PrimitiveTensorElementType + Copy + Sync + std::fmt::Debug,
{
    let missing = || ort::Error::new(format!("{op}: missing input"));
    let (x, p, q) = (ctx.input(0)?.ok_or_else(missing)?, ctx.input(1)?.ok_or_else(missing)?, ctx.input(2)?.ok_or_else(missing)?);
    let (shape, x) = x.try_extract_tensor::<X>()?;
    let (_, p) = p.try_extract_tensor::<P>()?;
    let (_, q) = q.try_extract_tensor::<f32>()?;
    let dims: Vec<i64> = shape.iter().copied().collect();
    let [batch, channels, len] = dims[..] else {
        return Err(ort::Error::new(format!("{op}: the input must be [N, C, T], got {dims:?}")));
    };
    let (rows, channels, len) = ((batch * channels) as usize, channels as usize, len as usize);
    let fits = |n: usize| n == channels || n == rows || n == 1;
    if !fits(p.len()) || !fits(q.len()) {
        return Err(ort::Error::new(format!(
            "{op}: the per-channel inputs need 1 or {channels} values per batch, got {} and {}",
            p.len(),
            q.len()
        )));
    }
    let mut out = ctx.output(0, dims.clone())?.ok_or_else(|| ort::Error::new(format!("{op}: no output")))?;
    let (_, y) = out.try_extract_tensor_mut::<f32>()?;
    if y.is_empty() {
        return Ok(());
    }
    let out = Rows(y.as_mut_ptr());
    let out = &out;
    ctx.par_for(rows, rows, move |r| {
        let range = r * len..(r + 1) * len;
        // SAFETY: each row index is visited once, and rows do not overlap.
        let y = unsafe { std::slice::from_raw_parts_mut(out.0.add(range.start), len) };
        row(&x[range], p[r % p.len()], q[r % q.len()], y);
    })?;
    Ok(())
}

/// `y = x + inv · sin²(alpha · x)` over one channel row.
pub fn snake_row(x: &[f32], alpha: f32, inv: f32, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the features the function is compiled for were just detected.
            unsafe { snake_row_avx2(x, alpha, inv, y) };
            return;
        }
    }
    snake_row_generic(x, alpha, inv, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn snake_row_avx2(x: &[f32], alpha: f32, inv: f32, y: &mut [f32]) {
    snake_row_generic(x, alpha, inv, y)
}

#[inline(always)]
fn snake_row_generic(x: &[f32], alpha: f32, inv: f32, y: &mut [f32]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y = x + inv * sin_squared(alpha * x);
    }
}

/// sin²(z), to within 3e-7 absolute for |z| up to 10³ (the range of the vocoder's α·x;
/// 5e-7 up to 10⁴, 5e-6 up to 10⁵, as the reduction loses bits of large z): sin² has period
/// π, so z is reduced to r in [-π/2, π/2] (Cody–Waite, π in two parts) and sin r is an odd
/// polynomial.
#[inline(always)]
pub fn sin_squared(z: f32) -> f32 {
    const INV_PI: f32 = std::f32::consts::FRAC_1_PI;
    const PI_HI: f32 = 3.140_625; // exact in few bits, so k·PI_HI is exact
    const PI_LO: f32 = 9.676_535_5e-4; // π − PI_HI
    // Round to nearest without a libm call (valid for |z/π| < 2²²).
    const MAGIC: f32 = 12_582_912.0; // 1.5 · 2²³
    let k = (z * INV_PI + MAGIC) - MAGIC;
    let r = (z - k * PI_HI) - k * PI_LO;
    let r2 = r * r;
    // Taylor to r¹⁵: the first omitted term is below 2e-9 on [-π/2, π/2].
    let p = -1.0 / 1_307_674_368_000.0;
    let p = p * r2 + 1.0 / 6_227_020_800.0;
    let p = p * r2 - 1.0 / 39_916_800.0;
    let p = p * r2 + 1.0 / 362_880.0;
    let p = p * r2 - 1.0 / 5_040.0;
    let p = p * r2 + 1.0 / 120.0;
    let p = p * r2 - 1.0 / 6.0;
    let s = r + r * r2 * p;
    s * s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sin_squared_matches_the_library_sine() {
        // The bounds documented on `sin_squared`, by range of |z|.
        for (limit, bound) in [(1.0e3f32, 3e-7), (1.0e4, 5e-7), (1.0e5, 5e-6)] {
            let (mut worst, mut z) = (0f64, -limit);
            while z < limit {
                worst = worst.max((sin_squared(z) as f64 - (z as f64).sin().powi(2)).abs());
                z += limit / 100_000.0;
            }
            assert!(worst < bound, "|z| < {limit}: {worst}");
        }
        assert_eq!(sin_squared(0.0), 0.0);
        assert!((sin_squared(std::f32::consts::FRAC_PI_2) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn adain_row_normalizes_then_scales_and_shifts() {
        let x: Vec<f32> = (0..777).map(|i| ((i * 37 % 101) as f32) * 0.3 - 4.0).collect();
        let mut y = vec![0.0; x.len()];
        adain_row(&x, 1.5, -0.25, 1e-5, &mut y);
        let n = x.len() as f64;
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        for (&x, &y) in x.iter().zip(&y) {
            let exact = (x as f64 - mean) / (var + 1e-5).sqrt() * 1.5 - 0.25;
            assert!((y as f64 - exact).abs() < 1e-4, "{x}: {y} vs {exact}");
        }
        let out_mean = y.iter().map(|&v| v as f64).sum::<f64>() / n;
        assert!((out_mean + 0.25).abs() < 1e-4, "{out_mean}");
    }

    #[test]
    fn bias_scale_row_adds_then_casts_then_scales() {
        let acc = [0, 7, -300_000, i32::MAX, 123_456_789];
        let mut y = [0.0f32; 5];
        bias_scale_row(&acc, 5, 0.001, &mut y);
        assert_eq!(y[0], 5.0 * 0.001);
        assert_eq!(y[1], 12.0 * 0.001);
        assert_eq!(y[2], -299_995.0 * 0.001);
        assert_eq!(y[3], i32::MIN.wrapping_add(4) as f32 * 0.001); // wraps, as ONNX's Add
        assert_eq!(y[4], 123_456_794i32 as f32 * 0.001);
    }

    #[test]
    fn snake_row_is_x_plus_scaled_sine_squared() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.0) * 0.031).collect();
        let mut y = vec![0.0; x.len()];
        snake_row(&x, 1.7, 0.6, &mut y);
        for (&x, &y) in x.iter().zip(&y) {
            let exact = x as f64 + 0.6 * ((1.7 * x) as f64).sin().powi(2);
            assert!((y as f64 - exact).abs() < 1e-5, "{x}: {y} vs {exact}");
        }
    }
}
