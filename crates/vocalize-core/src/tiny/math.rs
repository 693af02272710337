//! `exp`, `sin`/`cos` and `tanh` in f32 without branches or library calls, so loops over
//! slices of them compile to SIMD code (the C library's scalar functions were two thirds of
//! the vocoder's time). Cephes' polynomials and range reductions: within a few units in the
//! last place of the C library's results over the ranges the vocoder uses (`|x| < 10⁴` for
//! sine and cosine), which the tests check.

/// `fn $name(args) -> T` that runs `$portable` (an `#[inline(always)]` function) compiled
/// for AVX2 when the CPU has it: eight lanes instead of SSE2's four. Both builds do the same
/// IEEE operations lane by lane (nothing is fused), so they give the same bits.
macro_rules! with_avx2 {
    ($(#[$meta:meta])* $vis:vis fn $name:ident = $portable:ident($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) -> $ret {
                    $portable($($arg),*)
                }
                // SAFETY: the CPU has AVX2.
                return unsafe { avx2($($arg),*) };
            }
            $portable($($arg),*)
        }
    };
}
pub(crate) use with_avx2;

/// 1.5 · 2²³: adding and subtracting it rounds an f32 below 2²² to the nearest integer, and
/// the sum's low mantissa bits hold that integer.
const ROUNDER: f32 = 12_582_912.0;

/// `x` rounded to the nearest integer (ties to even) and that integer, for `|x| < 2²²`.
#[inline(always)]
fn round_with_int(x: f32) -> (f32, i32) {
    let shifted = x + ROUNDER;
    (shifted - ROUNDER, shifted.to_bits().wrapping_sub(ROUNDER.to_bits()) as i32)
}

/// eˣ, flushed to zero below e⁻⁸⁷ and saturating above e⁸⁸.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let (n, k) = round_with_int(x * std::f32::consts::LOG2_E);
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((k + 127) as u32) << 23)
}

/// (sin x, cos x).
#[inline(always)]
pub fn sin_cos(x: f32) -> (f32, f32) {
    // π/2 in three parts, the first two short enough that their products with the
    // quadrant are exact.
    const P1: f32 = 1.570_312_5;
    const P2: f32 = 4.837_513e-4;
    const P3: f32 = 7.549_79e-8;
    let (q, quadrant) = round_with_int(x * std::f32::consts::FRAC_2_PI);
    let r = ((x - q * P1) - q * P2) - q * P3;
    let z = r * r;
    let sin = r + r * z * ((-1.951_529_6e-4 * z + 8.332_161e-3) * z - 1.666_665_5e-1);
    let cos = 1.0 - 0.5 * z + z * z * ((2.443_315_7e-5 * z - 1.388_731_6e-3) * z + 4.166_664_6e-2);
    let swap = quadrant & 1 != 0;
    let (s, c) = if swap { (cos, sin) } else { (sin, cos) };
    let sin_sign = ((quadrant & 2) as u32) << 30;
    let cos_sign = (((quadrant + 1) & 2) as u32) << 30;
    (f32::from_bits(s.to_bits() ^ sin_sign), f32::from_bits(c.to_bits() ^ cos_sign))
}

/// sin x.
#[inline(always)]
pub fn sin(x: f32) -> f32 {
    sin_cos(x).0
}

/// tanh x: a polynomial near zero, `1 − 2 / (e^{2|x|} + 1)` past it.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let near = ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
        - 3.333_328e-1)
        * z
        * x
        + x;
    let far = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
    if a < 0.625 {
        near
    } else {
        f32::from_bits(far.to_bits() | (x.to_bits() & 0x8000_0000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest difference from `reference` over `xs`, in units of `scale(x)`.
    fn worst(xs: impl Iterator<Item = f32>, ours: impl Fn(f32) -> f32, reference: impl Fn(f64) -> f64, scale: impl Fn(f64) -> f64) -> (f64, f32) {
        xs.map(|x| (((ours(x) as f64) - reference(x as f64)).abs() / scale(reference(x as f64)), x))
            .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
    }

    fn grid(from: f32, to: f32, n: usize) -> impl Iterator<Item = f32> {
        (0..=n).map(move |i| from + (to - from) * i as f32 / n as f32)
    }

    #[test]
    fn exp_is_within_two_units_in_the_last_place() {
        let (err, at) = worst(grid(-87.0, 7.0, 200_000), exp, f64::exp, |y| y * f32::EPSILON as f64);
        assert!(err < 2.0, "{err} ulp at {at}");
        assert!((0.0..1e-37).contains(&exp(-200.0)));
        assert!(exp(0.0) == 1.0 && exp(100.0).is_finite());
    }

    #[test]
    fn sine_and_cosine_are_within_a_few_ulp_of_one_over_the_used_range() {
        for (from, to) in [(-4.0, 4.0), (-10.0, 10.0), (0.0, 2000.0), (-10_000.0, 10_000.0)] {
            let (err, at) = worst(grid(from, to, 400_000), |x| sin_cos(x).0, f64::sin, |_| f32::EPSILON as f64);
            assert!(err < 4.0, "sin: {err} ulp of 1 at {at}");
            let (err, at) = worst(grid(from, to, 400_000), |x| sin_cos(x).1, f64::cos, |_| f32::EPSILON as f64);
            assert!(err < 4.0, "cos: {err} ulp of 1 at {at}");
        }
    }

    #[test]
    fn tanh_is_close_across_the_switch_and_in_the_tails() {
        let (err, at) = worst(grid(-12.0, 12.0, 400_000), tanh, f64::tanh, |y| (y.abs() * f32::EPSILON as f64).max(f32::EPSILON as f64 / 2.0));
        assert!(err < 4.0, "{err} at {at}");
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!((tanh(50.0), tanh(-50.0)), (1.0, -1.0));
        assert!(tanh(1e-6) > 0.0 && tanh(-1e-6) < 0.0);
    }
}
