//! The soft score of a feasible (enterprise, space) pair.
//!
//! Five components, each in [0, 1]:
//!
//! * `distance`: `1 - d / radius_km`, d the great-circle distance to the park, km.
//! * `cost`: rent headroom `(max_rent - rent) / max_rent` (1 when max_rent is 0).
//! * `size`: `1 - |area - c| / h` with c and h the centre and half-width of the
//!   requested area range (1 when the range is a single value).
//! * `chain`: industry-chain affinity with the park's current tenants:
//!   `sum_d share_p(d) * a(e, d)` where `share_p(d)` is the share of the park's tenants in
//!   division d and `a(e, d)` is 1 when d is one of the enterprise's supplier or customer
//!   divisions, else the affinity matrix entry `A[div_e, d]` (0 without a matrix).
//! * `carbon`: `1 - co2e / remaining` clipped to [0, 1], with `remaining` the park's
//!   carbon budget left after its current tenants (1 for zero emissions, 0 when nothing
//!   is left).
//!
//! The integer score is `1 + round(SCORE_SCALE * sum_i w_i c_i / sum_i w_i)`, in
//! `[1, SCORE_SCALE + 1]`: a resolution of 1e-6 of the weighted mean, and every
//! feasible pair is worth more than leaving the enterprise unmatched.

use super::CandidateIndex;
use crate::error::{CoreError, CoreResult};
use crate::geo::haversine_km;

/// Quantisation of the weighted mean of the components.
pub const SCORE_SCALE: f64 = 1_000_000.0;
/// Component names in output order.
pub const COMPONENTS: [&str; 5] = ["distance", "cost", "size", "chain", "carbon"];

/// Non-negative weights of the components; they need not sum to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights(pub [f64; 5]);

impl Weights {
    pub fn validate(&self) -> CoreResult<()> {
        for (i, &w) in self.0.iter().enumerate() {
            if !w.is_finite() || w < 0.0 {
                return Err(CoreError::invalid(
                    format!("weights.{}", COMPONENTS[i]),
                    None,
                    "must be finite and non-negative",
                ));
            }
        }
        if self.0.iter().sum::<f64>() <= 0.0 {
            return Err(CoreError::invalid(
                "weights",
                None,
                "at least one weight must be positive",
            ));
        }
        Ok(())
    }

    /// The integer score of a component vector.
    #[inline]
    pub fn score(&self, c: &[f64; 5]) -> i64 {
        let total: f64 = self.0.iter().sum();
        let mean: f64 = self.0.iter().zip(c).map(|(w, x)| w * x).sum::<f64>() / total;
        1 + (SCORE_SCALE * mean.clamp(0.0, 1.0)).round() as i64
    }
}

impl CandidateIndex {
    /// Chain affinity of enterprise `e` with park `p`'s tenants, in [0, 1].
    ///
    /// `sum_d share_p(d) * A[div_e, d]` comes from the per-park table built once; the
    /// enterprise's own supplier/customer divisions then raise their terms to 1, so the
    /// cost is O(number of listed divisions).
    pub fn chain(&self, e: usize, p: usize) -> f64 {
        const N: usize = super::N_DIVISIONS;
        let div = self.enterprises.division[e] as usize;
        let mut sum = self.park_div_affinity[p * N + div];
        let share = &self.park_share[p * N..(p + 1) * N];
        for (w, &word) in self.enterprises.chain_mask[e].iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let d = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if d < N {
                    let a = if self.affinity.is_empty() {
                        0.0
                    } else {
                        self.affinity[div * N + d]
                    };
                    sum += share[d] * (1.0 - a);
                }
            }
        }
        sum.clamp(0.0, 1.0)
    }

    /// Carbon fit of enterprise `e` with park `p`'s remaining budget, in [0, 1].
    pub fn carbon(&self, e: usize, p: usize) -> f64 {
        let co2 = self.enterprises.annual_co2e_t[e];
        let left = self.parks.remaining_co2e_t[p];
        if co2 <= 0.0 {
            1.0
        } else if left <= 0.0 {
            0.0
        } else {
            (1.0 - co2 / left).clamp(0.0, 1.0)
        }
    }

    /// Distance from enterprise `e`'s preferred location to park `p`, km.
    pub fn distance_km(&self, e: usize, p: usize) -> f64 {
        haversine_km(
            self.enterprises.lat[e],
            self.enterprises.lon[e],
            self.parks.lat[p],
            self.parks.lon[p],
        )
    }

    /// The five components for a pair, given the per-park parts.
    #[inline]
    pub fn components(
        &self,
        e: usize,
        s: usize,
        dist_km: f64,
        chain: f64,
        carbon: f64,
    ) -> [f64; 5] {
        let ent = &self.enterprises;
        let sp = &self.spaces;
        let radius = ent.radius_km[e];
        let distance = if radius.is_infinite() {
            1.0
        } else {
            1.0 - dist_km / radius
        };
        let max_rent = ent.max_rent_cny_per_m2_month[e];
        let cost = if max_rent > 0.0 {
            (max_rent - sp.rent_cny_per_m2_month[s]) / max_rent
        } else {
            1.0
        };
        let (lo, hi) = (ent.area_min_m2[e], ent.area_max_m2[e]);
        let half = (hi - lo) / 2.0;
        let size = if half > 0.0 {
            1.0 - (sp.area_m2[s] - (lo + half)).abs() / half
        } else {
            1.0
        };
        [
            distance.clamp(0.0, 1.0),
            cost.clamp(0.0, 1.0),
            size.clamp(0.0, 1.0),
            chain,
            carbon,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_quantised_weighted_mean_plus_one() {
        let w = Weights([1.0, 1.0, 0.0, 0.0, 2.0]);
        assert_eq!(w.score(&[1.0, 0.0, 0.7, 0.3, 0.5]), 1 + 500_000);
        assert_eq!(w.score(&[0.0; 5]), 1);
        assert_eq!(w.score(&[1.0; 5]), 1_000_001);
        assert!(Weights([0.0; 5]).validate().is_err());
        assert!(Weights([1.0, -1.0, 0.0, 0.0, 0.0]).validate().is_err());
        assert!(Weights([1.0, f64::NAN, 0.0, 0.0, 0.0]).validate().is_err());
    }
}
