//! Great-circle distances and a latitude/longitude grid index over points.

/// Mean Earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Length of one degree of latitude on the mean sphere, km.
pub const KM_PER_DEG_LAT: f64 = EARTH_RADIUS_KM * std::f64::consts::PI / 180.0;

/// Haversine distance between two points given in degrees, km.
#[inline]
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// A dense grid of `cell_deg`-degree cells over the globe, each listing its points.
///
/// Queries return a superset of the points within a radius (every point whose cell meets
/// the radius' bounding box); callers check the exact distance. Memory O(cells + points).
#[derive(Debug, Clone)]
pub struct GridIndex {
    cell_deg: f64,
    n_lat: usize,
    n_lon: usize,
    indptr: Vec<u32>,
    points: Vec<u32>,
}

impl GridIndex {
    /// Index points `(lat[i], lon[i])`, degrees, assumed finite and in range.
    pub fn new(lat: &[f64], lon: &[f64], cell_deg: f64) -> Self {
        let n_lat = (180.0 / cell_deg).ceil() as usize;
        let n_lon = (360.0 / cell_deg).ceil() as usize;
        let mut g = Self {
            cell_deg,
            n_lat,
            n_lon,
            indptr: vec![0; n_lat * n_lon + 1],
            points: vec![0; lat.len()],
        };
        let cells: Vec<usize> = lat
            .iter()
            .zip(lon)
            .map(|(&a, &o)| g.cell(g.lat_row(a), g.lon_col(o)))
            .collect();
        for &c in &cells {
            g.indptr[c + 1] += 1;
        }
        for i in 0..g.indptr.len() - 1 {
            g.indptr[i + 1] += g.indptr[i];
        }
        let mut fill = g.indptr.clone();
        for (i, &c) in cells.iter().enumerate() {
            g.points[fill[c] as usize] = i as u32;
            fill[c] += 1;
        }
        g
    }

    fn lat_row(&self, lat: f64) -> usize {
        (((lat + 90.0) / self.cell_deg).floor().max(0.0) as usize).min(self.n_lat - 1)
    }

    fn lon_col(&self, lon: f64) -> usize {
        let x = (lon + 180.0).rem_euclid(360.0);
        ((x / self.cell_deg).floor() as usize).min(self.n_lon - 1)
    }

    fn cell(&self, row: usize, col: usize) -> usize {
        row * self.n_lon + col
    }

    /// Call `f` on every point whose cell meets the bounding box of the circle of
    /// `radius_km` around `(lat, lon)`; each point at most once.
    pub fn for_each_near(&self, lat: f64, lon: f64, radius_km: f64, mut f: impl FnMut(u32)) {
        let dlat = radius_km / KM_PER_DEG_LAT;
        let (lo, hi) = ((lat - dlat).max(-90.0), (lat + dlat).min(90.0));
        let (r0, r1) = (self.lat_row(lo), self.lat_row(hi));
        let max_abs_lat = lo.abs().max(hi.abs());
        let cos = max_abs_lat.to_radians().cos();
        let dlon = if cos > 1e-9 {
            radius_km / (KM_PER_DEG_LAT * cos)
        } else {
            360.0
        };
        let cols: Box<dyn Iterator<Item = usize>> = if dlon >= 180.0 {
            Box::new(0..self.n_lon)
        } else {
            let c0 = self.lon_col(lon - dlon);
            let span = (((lon + dlon) - (lon - dlon)) / self.cell_deg).ceil() as usize + 1;
            let span = span.min(self.n_lon);
            let n = self.n_lon;
            Box::new((0..span).map(move |i| (c0 + i) % n))
        };
        let cols: Vec<usize> = cols.collect();
        for row in r0..=r1 {
            for &col in &cols {
                let c = self.cell(row, col);
                for &p in &self.points[self.indptr[c] as usize..self.indptr[c + 1] as usize] {
                    f(p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_known_distance() {
        // Shanghai People's Square to Beijing Tiananmen: about 1067 km.
        let d = haversine_km(31.2304, 121.4737, 39.9087, 116.3975);
        assert!((d - 1067.0).abs() < 5.0, "{d}");
        assert!(haversine_km(10.0, 20.0, 10.0, 20.0).abs() < 1e-9);
    }

    #[test]
    fn grid_query_is_a_superset_of_the_exact_answer() {
        let mut seed = 11_u64;
        let mut rnd = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 11) as f64 / (1_u64 << 53) as f64
        };
        let lat: Vec<f64> = (0..2000).map(|_| rnd() * 170.0 - 85.0).collect();
        let lon: Vec<f64> = (0..2000).map(|_| rnd() * 360.0 - 180.0).collect();
        let g = GridIndex::new(&lat, &lon, 0.5);
        for q in 0..200 {
            let (qa, qo, r) = (lat[q] + 0.3, lon[q] - 0.2, 50.0 + rnd() * 3000.0);
            let mut seen = vec![0_u32; lat.len()];
            g.for_each_near(qa, qo, r, |p| seen[p as usize] += 1);
            for p in 0..lat.len() {
                assert!(seen[p] <= 1);
                if haversine_km(qa, qo, lat[p], lon[p]) <= r {
                    assert_eq!(seen[p], 1, "point {p} missed");
                }
            }
        }
    }
}
