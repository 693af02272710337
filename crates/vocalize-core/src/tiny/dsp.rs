//! The tiny model's signal processing: its source-filter spectrum, one frame every 12.5 ms,
//! turned into 24 kHz audio.
//!
//! ```text
//! S = exp(lh) e^{iπ tanh(θ)} STFT(pulses(f0)) + exp(ln) Z + exp(lr) e^{iφ}
//! audio = ISTFT(S)
//! ```
//!
//! `pulses(f0)` is a band-limited pulse train that follows the pitch curve, `Z` complex white
//! noise (seeded), and the last term a branch of free magnitude and phase. The transforms are
//! those of torch's `stft`/`istft` with `center=True`: n_fft 1200, hop 300, a periodic Hann
//! window, reflect padding. The arithmetic follows hibari's `dsp.py` step for step in the
//! same precision (f32, with the phase summed in f64), so the two agree to rounding.

use std::f32::consts::PI;
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64Mcg;
use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use super::math;
use crate::error::{CoreError, Result};
use crate::SAMPLE_RATE;

/// Transform length (50 ms at 24 kHz).
pub const N_FFT: usize = 1200;
/// Samples per frame (12.5 ms: 80 frames a second).
pub const HOP: usize = 300;
/// Frequency bins of one frame.
pub const BINS: usize = N_FFT / 2 + 1;
/// Pitch below which a sample is unvoiced (no pulses).
const VOICED_HZ: f32 = 40.0;
/// Harmonics of the pulse train stop below this frequency.
const MAX_HARMONIC_HZ: f32 = 11_000.0;
/// Log magnitudes are clamped here before `exp`.
const MAX_LOG_MAGNITUDE: f32 = 7.0;

/// The model's output for one chunk: five spectral parts, each `[BINS, frames]` (bin-major,
/// as the model lays them out), and the pitch `f0` in Hz, one value per frame.
#[derive(Debug, Clone)]
pub struct Spectrum {
    pub frames: usize,
    /// Log magnitude of the harmonic filter.
    pub lh: Vec<f32>,
    /// Phase of the harmonic filter, before `π tanh`.
    pub theta: Vec<f32>,
    /// Log magnitude of the noise.
    pub ln: Vec<f32>,
    /// Log magnitude of the free-phase branch.
    pub lr: Vec<f32>,
    /// Phase of the free-phase branch.
    pub phi: Vec<f32>,
    pub f0: Vec<f32>,
}

impl Spectrum {
    /// Checks every part has the size `frames` implies.
    pub fn check(&self) -> Result<()> {
        let size = BINS * self.frames;
        let parts = [&self.lh, &self.theta, &self.ln, &self.lr, &self.phi];
        if self.frames == 0 || parts.iter().any(|p| p.len() != size) || self.f0.len() != self.frames {
            return Err(CoreError::inference(format!(
                "the tiny model's outputs disagree: {} frames, parts of {:?} values, {} pitch values",
                self.frames,
                parts.map(|p| p.len()),
                self.f0.len()
            )));
        }
        Ok(())
    }

    /// Samples of audio this spectrum gives.
    pub fn samples(&self) -> usize {
        self.frames * HOP
    }
}

/// Whether and how the noise branch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// Without the noise term: the audio is a function of the spectrum alone.
    Off,
    /// With noise drawn from a generator seeded with this value: the same seed gives the
    /// same samples, bit for bit.
    Seeded(u64),
}

/// The transforms and windows, planned once and shared by every synthesis.
pub struct Vocoder {
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    /// Periodic Hann window.
    window: Vec<f32>,
    /// The window scaled so a unit cosine comes out of the STFT with magnitude one (a
    /// cosine peaks at `sum(window) / 2 = N_FFT / 4`): `exp(lh)` is then the harmonic's
    /// own magnitude.
    source_window: Vec<f32>,
    /// The window over `N_FFT` (the inverse transform's scale), applied after it.
    synthesis_window: Vec<f32>,
}

impl Default for Vocoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Vocoder {
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let window: Vec<f32> = (0..N_FFT)
            .map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32)
            .collect();
        let source_window = window.iter().map(|w| w / (N_FFT / 4) as f32).collect();
        let synthesis_window = window.iter().map(|w| w / N_FFT as f32).collect();
        Self {
            forward: planner.plan_fft_forward(N_FFT),
            inverse: planner.plan_fft_inverse(N_FFT),
            window,
            source_window,
            synthesis_window,
        }
    }

    /// The audio of `spectrum`: `spectrum.samples()` samples at 24 kHz.
    pub fn render(&self, spectrum: &Spectrum, noise: Noise) -> Result<Vec<f32>> {
        spectrum.check()?;
        let _span = tracing::info_span!("vocoder", frames = spectrum.frames).entered();
        let frames = spectrum.frames;
        let source = reflect_padded(&pulses(&spectrum.f0), N_FFT / 2);
        let (filter, added) = branches(spectrum, noise);
        let mut input = self.forward.make_input_vec();
        let mut bins = self.forward.make_output_vec();
        let mut output = self.inverse.make_output_vec();
        let mut scratch = vec![
            Complex::default();
            self.forward.get_scratch_len().max(self.inverse.get_scratch_len())
        ];
        let blocks = N_FFT / HOP;
        let mut sum = vec![0f32; (frames + blocks - 1) * HOP];
        let fft_failed = |e: realfft::FftError| CoreError::inference(format!("transform failed: {e}"));
        for frame in 0..frames {
            // The frame centred on sample frame * HOP of the pulse train.
            let source = &source[frame * HOP..frame * HOP + N_FFT];
            for ((x, s), w) in input.iter_mut().zip(source).zip(&self.source_window) {
                *x = s * w;
            }
            self.forward.process_with_scratch(&mut input, &mut bins, &mut scratch).map_err(fft_failed)?;
            for (bin, value) in bins.iter_mut().enumerate() {
                let at = bin * frames + frame;
                *value = *value * filter[at] + added[at];
            }
            // A real signal's transform has no imaginary part at DC and Nyquist; the inverse
            // ignores it, as torch's and numpy's do.
            bins[0].im = 0.0;
            bins[BINS - 1].im = 0.0;
            self.inverse.process_with_scratch(&mut bins, &mut output, &mut scratch).map_err(fft_failed)?;
            let span = &mut sum[frame * HOP..frame * HOP + N_FFT];
            for ((y, x), w) in span.iter_mut().zip(&output).zip(&self.synthesis_window) {
                *y += x * w;
            }
        }
        Ok(self.normalize(sum, frames))
    }

    /// Divides the overlap-added frames by the summed squared window at each sample and cuts
    /// the half frame of padding off each end (torch's `istft(center=True, length=F*hop)`).
    fn normalize(&self, sum: Vec<f32>, frames: usize) -> Vec<f32> {
        let blocks = N_FFT / HOP;
        let first = N_FFT / 2 / HOP;
        let mut audio = Vec::with_capacity(frames * HOP);
        for block in first..first + frames {
            for j in 0..HOP {
                // Frames block-3 ..= block cover this block, each with its own part of the window.
                let mut weight = 0f32;
                for k in 0..blocks {
                    if block >= k && block - k < frames {
                        let w = self.window[k * HOP + j];
                        weight += w * w;
                    }
                }
                audio.push(sum[block * HOP + j] * (1.0 / weight.max(1e-11)));
            }
        }
        audio
    }
}

math::with_avx2! {
    /// The spectrum's per-bin factors, laid out as its parts: the harmonic filter
    /// `exp(lh) e^{iπ tanh θ}` that multiplies the source, and what is added to it, the
    /// noise `exp(ln) Z` and the free-phase branch `exp(lr) e^{iφ}`.
    fn branches = branches_portable(spectrum: &Spectrum, noise: Noise) -> (Vec<Complex<f32>>, Vec<Complex<f32>>)
}

#[inline(always)]
fn branches_portable(spectrum: &Spectrum, noise: Noise) -> (Vec<Complex<f32>>, Vec<Complex<f32>>) {
    let size = spectrum.lh.len();
    let mut filter = vec![Complex::default(); size];
    for ((value, &lh), &theta) in filter.iter_mut().zip(&spectrum.lh).zip(&spectrum.theta) {
        let gain = magnitude(lh);
        let (sin, cos) = math::sin_cos(math::tanh(theta) * PI);
        *value = Complex::new(cos * gain, sin * gain);
    }
    let mut added = vec![Complex::default(); size];
    for ((value, &lr), &phi) in added.iter_mut().zip(&spectrum.lr).zip(&spectrum.phi) {
        let gain = magnitude(lr);
        let (sin, cos) = math::sin_cos(phi);
        *value = Complex::new(cos * gain, sin * gain);
    }
    if let Noise::Seeded(seed) = noise {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        // Drawn in the parts' order: bin by bin, each bin's frames in turn.
        let z: Vec<Complex<f32>> =
            (0..size).map(|_| Complex::new(rng.sample(StandardNormal), rng.sample(StandardNormal))).collect();
        for ((value, z), &ln) in added.iter_mut().zip(&z).zip(&spectrum.ln) {
            let gain = magnitude(ln);
            *value = Complex::new(z.re * gain + value.re, z.im * gain + value.im);
        }
    }
    (filter, added)
}

/// `exp` of a log magnitude, clamped so no bin can overflow.
#[inline(always)]
fn magnitude(log: f32) -> f32 {
    math::exp(log.min(MAX_LOG_MAGNITUDE))
}

/// `x` with `pad` samples of reflect padding at each end.
fn reflect_padded(x: &[f32], pad: usize) -> Vec<f32> {
    let len = x.len() as isize;
    (-(pad as isize)..len + pad as isize).map(|i| x[reflect(i, x.len())]).collect()
}

/// The index that reflect padding (mirrored about the first and last sample, which are not
/// repeated) reads for position `i` of a signal of `len` samples.
fn reflect(i: isize, len: usize) -> usize {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len as isize - 1);
    let i = i.rem_euclid(period);
    (if i < len as isize { i } else { period - i }) as usize
}

math::with_avx2! {
    /// A band-limited pulse train following `f0` (one value per frame of [`HOP`] samples): every
    /// harmonic below [`MAX_HARMONIC_HZ`] at unit amplitude, summed in closed form,
    /// `Σ_{h≤H} cos(h t) = sin((H + ½) t) / (2 sin(t/2)) − ½`. Samples whose pitch is below
    /// [`VOICED_HZ`] are silent. The pitch is interpolated linearly between frame centres.
    pub fn pulses = pulses_portable(f0: &[f32]) -> Vec<f32>
}

#[inline(always)]
fn pulses_portable(f0: &[f32]) -> Vec<f32> {
    let frames = f0.len();
    let half = HOP / 2;
    // Sample j of a frame lies `u` of the way from the previous frame's centre to this one's
    // (j < HOP/2), or from this one's to the next (after).
    let u: Vec<f32> = (0..HOP).map(|j| (((j as f64 + 0.5) / HOP as f64) - 0.5).rem_euclid(1.0) as f32).collect();
    // The pitch at every sample, and the phase it has run through, summed in f64 (one
    // utterance is millions of radians).
    let mut pitch = Vec::with_capacity(frames * HOP);
    for k in 0..frames {
        let previous = f0[k.saturating_sub(1)];
        let next = f0[(k + 1).min(frames - 1)];
        let (first, second) = u.split_at(half);
        pitch.extend(first.iter().map(|&u| previous * (1.0 - u) + f0[k] * u));
        pitch.extend(second.iter().map(|&u| f0[k] * (1.0 - u) + next * u));
    }
    let mut sum = 0f64;
    let phase: Vec<f32> = pitch
        .iter()
        .map(|&f| {
            sum += f.max(VOICED_HZ) as f64;
            ((sum * (1.0 / SAMPLE_RATE as f64)).fract() * (2.0 * std::f64::consts::PI)) as f32
        })
        .collect();
    pitch
        .iter()
        .zip(&phase)
        .map(|(&f, &t)| {
            let voiced = f > VOICED_HZ;
            let f = f.max(VOICED_HZ);
            let harmonics = (MAX_HARMONIC_HZ / f) as i32 as f32 + 0.5;
            let denominator = math::sin(t * 0.5) * 2.0;
            // At t = 0 (mod 2π) the quotient tends to H + ½.
            let sum = if denominator.abs() <= 2e-3 { harmonics } else { math::sin(harmonics * t) / denominator };
            if voiced { sum - 0.5 } else { 0.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spectrum of `frames` frames with a flat harmonic filter of log magnitude `lh`, the
    /// other branches at `ln` and `lr` (use a large negative value to silence one).
    fn flat(frames: usize, f0: f32, lh: f32, ln: f32, lr: f32) -> Spectrum {
        let part = |v: f32| vec![v; BINS * frames];
        Spectrum { frames, lh: part(lh), theta: part(0.0), ln: part(ln), lr: part(lr), phi: part(0.0), f0: vec![f0; frames] }
    }

    const SILENT: f32 = -80.0;

    /// Magnitude of the DFT of `x` at `hz` (a Hann-windowed Goertzel-style sum).
    fn energy_at(x: &[f32], hz: f32) -> f64 {
        let n = x.len() as f64;
        let (mut re, mut im) = (0f64, 0f64);
        for (i, &v) in x.iter().enumerate() {
            let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos();
            let a = 2.0 * std::f64::consts::PI * hz as f64 * i as f64 / SAMPLE_RATE as f64;
            re += v as f64 * w * a.cos();
            im -= v as f64 * w * a.sin();
        }
        (re * re + im * im).sqrt() / n
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn every_frame_gives_one_hop_of_audio() {
        let vocoder = Vocoder::new();
        for frames in [1, 2, 3, 4, 5, 80, 123] {
            let audio = vocoder.render(&flat(frames, 150.0, 0.0, -3.0, -3.0), Noise::Seeded(1)).unwrap();
            assert_eq!(audio.len(), frames * HOP, "{frames} frames");
            assert!(audio.iter().all(|v| v.is_finite()), "{frames} frames");
        }
    }

    #[test]
    fn the_pulse_train_has_its_energy_at_the_pitch_and_its_harmonics() {
        let f0 = 200.0;
        let train = pulses(&vec![f0; 160]);
        assert_eq!(train.len(), 160 * HOP);
        let at = |hz| energy_at(&train[HOP * 20..HOP * 140], hz);
        let (fundamental, second, between) = (at(f0), at(2.0 * f0), at(1.5 * f0));
        // Each harmonic has unit amplitude: a cosine of amplitude 1 gives 1/4 here (the
        // windowed DFT halves it twice).
        assert!((fundamental - 0.25).abs() < 0.02, "{fundamental}");
        assert!((second - 0.25).abs() < 0.02, "{second}");
        assert!(between < 0.01 * fundamental, "{between} vs {fundamental}");
        // Band-limited: nothing above 11 kHz.
        assert!(at(11_600.0) < 0.01 * fundamental);
    }

    #[test]
    fn an_open_filter_gives_back_the_pulse_train() {
        // With exp(lh) = 1, no phase turn and the other branches silent, the inverse STFT
        // undoes the STFT at every sample, the padded ends included: the output is the pulse
        // train scaled by the source window's 1 / (N_FFT / 4).
        let mut f0: Vec<f32> = (0..90).map(|i| 100.0 + 2.0 * i as f32).collect();
        f0[30..40].fill(0.0);
        let mut spectrum = flat(f0.len(), 0.0, 0.0, SILENT, SILENT);
        spectrum.f0 = f0.clone();
        let audio = Vocoder::new().render(&spectrum, Noise::Off).unwrap();
        let scale = 1.0 / (N_FFT / 4) as f32;
        let expected: Vec<f32> = pulses(&f0).iter().map(|v| v * scale).collect();
        let diff: Vec<f32> = audio.iter().zip(&expected).map(|(a, b)| a - b).collect();
        assert!(rms(&diff) < 1e-5 * rms(&expected), "{} vs {}", rms(&diff), rms(&expected));
    }

    #[test]
    fn a_filter_open_around_the_pitch_leaves_one_tone_of_its_gain() {
        let frames = 120;
        let mut spectrum = flat(frames, 300.0, SILENT, SILENT, SILENT);
        let bin_hz = SAMPLE_RATE as f32 / N_FFT as f32;
        for bin in 0..BINS {
            if ((bin as f32 * bin_hz) - 300.0).abs() <= 60.0 {
                spectrum.lh[bin * frames..(bin + 1) * frames].fill(0.5f32.ln());
            }
        }
        let audio = Vocoder::new().render(&spectrum, Noise::Off).unwrap();
        let middle = &audio[HOP * 10..HOP * 110];
        // The pulse train's unit harmonic, at half its magnitude, through the 1/300 scale.
        let amplitude = energy_at(middle, 300.0) * 4.0 * (N_FFT / 4) as f64;
        assert!((amplitude - 0.5).abs() < 0.02, "amplitude {amplitude}");
        assert!(energy_at(middle, 600.0) < 0.01 * energy_at(middle, 300.0));
        assert!(energy_at(middle, 150.0) < 0.01 * energy_at(middle, 300.0));
    }

    #[test]
    fn unvoiced_frames_have_no_pulses() {
        let train = pulses(&[0.0; 10]);
        assert!(train.iter().all(|&v| v == 0.0));
        let mut f0 = vec![0.0; 20];
        f0[10..].fill(120.0);
        let train = pulses(&f0);
        assert!(train[..9 * HOP].iter().all(|&v| v == 0.0));
        assert!(rms(&train[12 * HOP..]) > 1.0);
    }

    #[test]
    fn the_free_phase_branch_alone_is_a_steady_tone_at_its_bin() {
        // exp(lr) in bin 20 (400 Hz, five periods per hop) with φ = 0 in every frame: the
        // frames' cosines line up, so the output is one cosine of amplitude
        // 2 exp(lr) / N_FFT · Σ window / Σ window² = 2 e³ / 1200 · 2 / 1.5.
        let frames = 40;
        let mut spectrum = flat(frames, 0.0, SILENT, SILENT, SILENT);
        let bin = 20;
        spectrum.lr[bin * frames..(bin + 1) * frames].fill(3.0);
        let audio = Vocoder::new().render(&spectrum, Noise::Off).unwrap();
        let middle = &audio[HOP * 4..HOP * 36];
        let amplitude = energy_at(middle, 400.0) * 4.0;
        let expected = 2.0 * 3f64.exp() / N_FFT as f64 * 2.0 / 1.5;
        assert!((amplitude - expected).abs() < 0.01 * expected, "{amplitude} vs {expected}");
        for i in 0..middle.len() - 60 {
            assert!((middle[i] - middle[i + 60]).abs() < 1e-5, "sample {i}");
        }
    }

    #[test]
    fn a_seed_repeats_the_noise_bit_for_bit_and_another_seed_does_not() {
        let vocoder = Vocoder::new();
        let spectrum = flat(50, 140.0, -1.0, -2.0, -4.0);
        let a = vocoder.render(&spectrum, Noise::Seeded(7)).unwrap();
        let b = vocoder.render(&spectrum, Noise::Seeded(7)).unwrap();
        let c = vocoder.render(&spectrum, Noise::Seeded(8)).unwrap();
        assert_eq!(a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), b.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        assert_ne!(a, c);
        assert_eq!(a.len(), c.len());
    }

    #[test]
    fn without_noise_only_the_noise_branch_is_gone() {
        let vocoder = Vocoder::new();
        // Noise alone: silent when off, and white at exp(ln) per bin when on.
        let spectrum = flat(60, 0.0, SILENT, -2.0, SILENT);
        let off = vocoder.render(&spectrum, Noise::Off).unwrap();
        assert!(off.iter().all(|&v| v.abs() < 1e-12), "max {}", off.iter().fold(0f32, |m, v| m.max(v.abs())));
        let on = vocoder.render(&spectrum, Noise::Seeded(3)).unwrap();
        assert!(rms(&on) > 1e-3);
        // Harmonic and free-phase branches are untouched by the switch.
        let full = flat(60, 150.0, -1.0, -2.0, -3.0);
        let without = flat(60, 150.0, -1.0, SILENT, -3.0);
        let a = vocoder.render(&full, Noise::Off).unwrap();
        let b = vocoder.render(&without, Noise::Seeded(3)).unwrap();
        let diff: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
        assert!(rms(&diff) < 1e-6 * rms(&a), "{} vs {}", rms(&diff), rms(&a));
    }

    #[test]
    fn the_avx2_build_gives_the_same_bits_as_the_portable_one() {
        let frames = 37;
        let wave = |scale: f32, offset: f32| -> Vec<f32> {
            (0..BINS * frames).map(|i| offset + scale * ((i as f32) * 0.37).sin()).collect()
        };
        let spectrum = Spectrum {
            frames,
            lh: wave(6.0, -3.0),
            theta: wave(9.0, 0.0),
            ln: wave(10.0, -8.0),
            lr: wave(8.0, -5.0),
            phi: wave(9.0, 0.0),
            f0: (0..frames).map(|i| if i % 9 == 0 { 0.0 } else { 60.0 + 7.0 * i as f32 }).collect(),
        };
        let bits = |v: &[Complex<f32>]| v.iter().map(|c| (c.re.to_bits(), c.im.to_bits())).collect::<Vec<_>>();
        let (a, b) = branches(&spectrum, Noise::Seeded(5));
        let (c, d) = branches_portable(&spectrum, Noise::Seeded(5));
        assert_eq!((bits(&a), bits(&b)), (bits(&c), bits(&d)));
        let as_bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        assert_eq!(as_bits(pulses(&spectrum.f0)), as_bits(pulses_portable(&spectrum.f0)));
    }

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        let len = 5;
        let read: Vec<usize> = (-4..9).map(|i| reflect(i, len)).collect();
        assert_eq!(read, [4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0]);
        assert_eq!(reflect(-3, 1), 0);
    }

    #[test]
    fn a_spectrum_of_the_wrong_size_is_an_error() {
        let mut spectrum = flat(10, 100.0, 0.0, 0.0, 0.0);
        spectrum.phi.pop();
        let err = Vocoder::new().render(&spectrum, Noise::Off).unwrap_err();
        assert!(err.to_string().contains("disagree"), "{err}");
        let empty = flat(0, 100.0, 0.0, 0.0, 0.0);
        assert!(Vocoder::new().render(&empty, Noise::Off).is_err());
    }
}
