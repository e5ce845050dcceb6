//! Exponential moving averages of fixed-size vectors (category scores, VAD).

/// `α = 2 / (window + 1)`; a window of 0 is treated as 1 (no smoothing).
#[must_use]
pub fn ema_alpha(window: u32) -> f32 {
    2.0 / (f32::from(u16::try_from(window.max(1)).unwrap_or(u16::MAX)) + 1.0)
}

/// Exponential moving average of an `N`-vector (see the module docs).
#[derive(Debug, Clone)]
pub struct Ema<const N: usize> {
    alpha: f32,
    value: Option<[f32; N]>,
}

impl<const N: usize> Ema<N> {
    /// An average with weight `alpha` for the newest value.
    #[must_use]
    pub fn new(alpha: f32) -> Self {
        Self { alpha, value: None }
    }

    /// Adds a value and returns the new average. The first value is taken as is.
    pub fn update(&mut self, x: &[f32; N]) -> [f32; N] {
        let alpha = self.alpha;
        let value = match self.value {
            Some(mut s) => {
                for (s, &x) in s.iter_mut().zip(x) {
                    *s = alpha * x + (1.0 - alpha) * *s;
                }
                s
            }
            None => *x,
        };
        self.value = Some(value);
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_matches_the_formula() {
        assert!((ema_alpha(5) - 1.0 / 3.0).abs() < 1e-7);
        assert_eq!(ema_alpha(1), 1.0);
        assert_eq!(ema_alpha(0), 1.0);
        let mut ema = Ema::new(0.5);
        assert_eq!(ema.update(&[2.0, 4.0]), [2.0, 4.0]);
        assert_eq!(ema.update(&[4.0, 0.0]), [3.0, 2.0]);
        assert_eq!(ema.update(&[3.0, 2.0]), [3.0, 2.0]);
        // Window 1: the newest value only.
        let mut none = Ema::new(ema_alpha(1));
        none.update(&[1.0]);
        assert_eq!(none.update(&[7.0]), [7.0]);
    }
}
