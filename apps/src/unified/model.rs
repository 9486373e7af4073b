//! The model and its data: logistic regression over [`FEATURES`] features, trained by
//! SGD, on examples generated from a hidden "true" model.

use neptune_support::rng::{mix, unit_f32};
use serde::{Deserialize, Serialize};

/// Features per example.
pub const FEATURES: usize = 16;

/// One labelled example.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// Its features.
    pub x: [f32; FEATURES],
    /// Its label.
    pub y: bool,
}

/// A logistic-regression model: `P(y) = sigmoid(w · x + b)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Weights.
    pub w: [f32; FEATURES],
    /// Bias.
    pub b: f32,
}

impl Default for Model {
    fn default() -> Model {
        Model {
            w: [0.0; FEATURES],
            b: 0.0,
        }
    }
}

#[inline]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl Model {
    /// `w · x + b`.
    #[inline]
    pub fn margin(&self, x: &[f32; FEATURES]) -> f32 {
        let mut z = self.b;
        for (w, x) in self.w.iter().zip(x) {
            z += w * x;
        }
        z
    }

    /// The predicted label.
    #[inline]
    pub fn predict(&self, x: &[f32; FEATURES]) -> bool {
        self.margin(x) > 0.0
    }

    /// One SGD step on the logistic loss.
    #[inline]
    pub fn step(&mut self, e: &Example, learning_rate: f32) {
        let g = (sigmoid(self.margin(&e.x)) - if e.y { 1.0 } else { 0.0 }) * learning_rate;
        for (w, x) in self.w.iter_mut().zip(&e.x) {
            *w -= g * x;
        }
        self.b -= g;
    }

    /// The share of `examples` it labels right.
    pub fn accuracy(&self, examples: &[Example]) -> f64 {
        if examples.is_empty() {
            return 0.0;
        }
        let right = examples
            .iter()
            .filter(|e| self.predict(&e.x) == e.y)
            .count();
        right as f64 / examples.len() as f64
    }
}

/// Makes examples from the hidden true model, each a pure function of its index.
#[derive(Clone, Copy, Debug)]
pub struct DataGen {
    truth: Model,
    seed: u64,
}

impl DataGen {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> DataGen {
        let mut truth = Model::default();
        for (j, w) in truth.w.iter_mut().enumerate() {
            *w = (unit_f32(mix(seed ^ (0x7700 + j as u64))) * 2.0 - 1.0) * 3.0;
        }
        truth.b = 0.25;
        DataGen { truth, seed }
    }

    /// The true model.
    pub fn truth(&self) -> Model {
        self.truth
    }

    /// Example number `i`.
    #[inline]
    pub fn example(&self, i: u64) -> Example {
        let base = mix(self.seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let mut x = [0.0f32; FEATURES];
        for (j, v) in x.iter_mut().enumerate() {
            *v = unit_f32(mix(base.wrapping_add(j as u64))) * 2.0 - 1.0;
        }
        let p = sigmoid(self.truth.margin(&x));
        let y = unit_f32(mix(base ^ 0xFFFF)) < p;
        Example { x, y }
    }

    /// Examples `from..from + n`.
    pub fn examples(&self, from: u64, n: usize) -> Vec<Example> {
        (from..from + n as u64).map(|i| self.example(i)).collect()
    }
}

/// Where the stream's examples start, far from the training and held-out ones.
pub(super) const STREAM_OFFSET: u64 = 1 << 40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_learns_the_true_model() {
        let gen = DataGen::new(3);
        let train = gen.examples(0, 20_000);
        let test = gen.examples(20_000, 5_000);
        let mut m = Model::default();
        for e in &train {
            m.step(e, 0.05);
        }
        let ideal = gen.truth().accuracy(&test);
        assert!(
            m.accuracy(&test) > ideal - 0.03,
            "{} vs {ideal}",
            m.accuracy(&test)
        );
        assert!(ideal > 0.8);
    }
}
