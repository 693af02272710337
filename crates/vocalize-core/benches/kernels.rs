//! The core's hot loops outside ONNX Runtime: the fused operators' per-row kernels (one row
//! is one channel of a vocoder activation: 128 channels of a few thousand samples) and the
//! trimming of a chunk's audio.
//!
//!     cargo bench -p vocalize-core --bench kernels

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vocalize_core::{audio, ops};

/// Samples in one channel row of the vocoder's last blocks for a 2.5 s chunk.
const ROW: usize = 7_500;

fn signal(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919 % 1009) as f32 / 1009.0 - 0.5) * 3.0).collect()
}

fn fused_operators(c: &mut Criterion) {
    let x = signal(ROW);
    let acc: Vec<i32> = (0..ROW as i32).map(|i| i.wrapping_mul(48_271) >> 8).collect();
    let mut y = vec![0.0f32; ROW];
    let mut group = c.benchmark_group("fused operators (one row)");
    group.throughput(Throughput::Elements(ROW as u64));
    group.bench_function("Snake", |b| b.iter(|| ops::snake_row(black_box(&x), 1.7, 0.6, &mut y)));
    // The five nodes Snake replaces, as ONNX Runtime's element-wise kernels compute them.
    group.bench_function("Snake unfused (libm sin)", |b| {
        b.iter(|| {
            for (y, &x) in y.iter_mut().zip(black_box(&x)) {
                *y = x + 0.6 * (1.7 * x).sin().powi(2);
            }
        })
    });
    group.bench_function("AdaIN", |b| b.iter(|| ops::adain_row(black_box(&x), 1.5, -0.25, 1e-5, &mut y)));
    group.bench_function("BiasScale", |b| b.iter(|| ops::bias_scale_row(black_box(&acc), 5, 0.001, &mut y)));
    group.finish();
}

fn trimming(c: &mut Criterion) {
    // Two seconds of 24 kHz audio: 0.3 s of near-silence, speech, 0.4 s of near-silence.
    let mut chunk = vec![0.001f32; 7_200];
    chunk.extend(signal(33_600).iter().map(|s| s * 0.2));
    chunk.extend(vec![0.001f32; 9_600]);
    let mut group = c.benchmark_group("audio");
    group.throughput(Throughput::Elements(chunk.len() as u64));
    group.bench_function("voiced_range", |b| b.iter(|| audio::voiced_range(black_box(&chunk))));
    group.bench_function("trim", |b| {
        b.iter_batched(|| chunk.clone(), |mut audio| audio::trim(&mut audio), criterion::BatchSize::LargeInput)
    });
    group.finish();
}

criterion_group!(benches, fused_operators, trimming);
criterion_main!(benches);
