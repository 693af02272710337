//! Post-processing of raw model output: silence trimming, edge fades and pauses.

use crate::SAMPLE_RATE;

/// Frames of this many samples (10 ms) decide where speech starts and ends.
const FRAME: usize = SAMPLE_RATE as usize / 100;
/// A frame whose peak is below this (about -46 dBFS) counts as silence.
const SILENCE_PEAK: f32 = 0.005;
/// Silence kept before the first and after the last voiced frame (30 ms), so plosives and
/// breath are not cut.
const KEEP: usize = SAMPLE_RATE as usize * 3 / 100;
/// Length of the fade applied at each end of a chunk (4 ms), so no seam clicks.
const FADE: usize = SAMPLE_RATE as usize / 250;

/// Returns the range of `audio` that holds speech, with a little margin on each side.
/// Silent audio gives an empty range.
pub fn voiced_range(audio: &[f32]) -> std::ops::Range<usize> {
    let voiced = |frame: &[f32]| frame.iter().any(|s| s.abs() >= SILENCE_PEAK);
    let frames: Vec<&[f32]> = audio.chunks(FRAME).collect();
    let Some(first) = frames.iter().position(|f| voiced(f)) else {
        return 0..0;
    };
    let last = frames.iter().rposition(|f| voiced(f)).unwrap_or(first);
    let start = (first * FRAME).saturating_sub(KEEP);
    let end = ((last + 1) * FRAME + KEEP).min(audio.len());
    start..end
}

/// Trims leading and trailing silence in place and fades both ends to zero; returns the
/// samples dropped from the start.
pub fn trim(audio: &mut Vec<f32>) -> usize {
    let range = voiced_range(audio);
    audio.truncate(range.end);
    audio.drain(..range.start);
    fade_edges(audio);
    range.start
}

/// Linear fade-in over the first and fade-out over the last few milliseconds.
pub fn fade_edges(audio: &mut [f32]) {
    let n = FADE.min(audio.len() / 2);
    let len = audio.len();
    for i in 0..n {
        let gain = i as f32 / n as f32;
        audio[i] *= gain;
        audio[len - 1 - i] *= gain;
    }
}

/// Samples of silence for a pause of `seconds`.
pub fn silence(seconds: f32) -> usize {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * SAMPLE_RATE as f32).round() as usize
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<f32> {
        (0..n).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect()
    }

    #[test]
    fn trims_silence_on_both_sides_and_keeps_speech() {
        let mut audio = vec![0.0; 4800];
        audio.extend(tone(24_000));
        audio.extend(vec![0.0; 9600]);
        let dropped = trim(&mut audio);
        // The speech starts at 4800: at most the margin before it is kept.
        assert!((4800 - KEEP - FRAME..=4800 - KEEP).contains(&dropped), "{dropped}");
        // Speech plus at most a frame and the margin on each side.
        assert!(audio.len() >= 24_000, "{}", audio.len());
        assert!(audio.len() <= 24_000 + 2 * (KEEP + FRAME), "{}", audio.len());
        assert_eq!(audio[0], 0.0);
        assert_eq!(*audio.last().unwrap(), 0.0);
    }

    #[test]
    fn silent_audio_trims_to_nothing() {
        let mut audio = vec![0.001; 10_000];
        trim(&mut audio);
        assert!(audio.is_empty());
    }

    #[test]
    fn fades_end_at_zero_without_jumps() {
        let mut audio = vec![0.8; 1000];
        fade_edges(&mut audio);
        let max_step = audio.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
        assert!(max_step <= 0.8 / FADE as f32 + 1e-6, "{max_step}");
    }

    #[test]
    fn pause_length_in_samples() {
        assert_eq!(silence(0.5), 12_000);
        assert_eq!(silence(-1.0), 0);
        assert_eq!(silence(f32::NAN), 0);
    }
}
