//! Single-source capacitated facility location: an iterated tabu search over plans.
//!
//! A plan gives every customer one site; its cost is the fixed cost of every site in use
//! plus the assignment costs. The search (after Ho, "An iterated tabu search heuristic for
//! the single source capacitated facility location problem", Applied Soft Computing 27,
//! 2015; penalty oscillation as in Delmaire et al., 1999) moves through plans that may
//! overload sites, at a price per unit of overload that rises while the search stays
//! infeasible and falls while it stays feasible, so it crosses the capacity boundary
//! instead of being stopped by it:
//!
//! - **moves**: shift one customer to another site; swap the sites of two customers. Each
//!   iteration takes the best non-tabu move of both neighbourhoods (the full ones: all
//!   `n m` shifts and all `n (n - 1) / 2` swaps, each evaluated in O(1) from the site loads
//!   and counts), even when it is worse: that is how it leaves a local optimum. Opening and
//!   closing sites happen through shifts (the first customer in pays the fixed cost, the
//!   last one out saves it);
//! - **tabu**: a customer that left a site may not return to it for a random tenure, unless
//!   the move gives a feasible plan better than the best one found (aspiration);
//! - **perturbation**: after a run of iterations without a better plan, the search restarts
//!   (every few times from the best plan) with the best location move by penalised change:
//!   one site closed (its customers placed greedily), one closed site opened (taking the
//!   customers it serves cheaper), or one swapped for the other (where the open sites are
//!   few and full, neither half alone pays for itself); sites
//!   just moved are tabu for a few such steps.
//!
//! The search is a primal heuristic: it returns the best feasible plan it met and proves
//! nothing; the caller's Lagrangian bound and MIP finish do. It is deterministic for a given
//! seed and iteration budget (the time limit is a safety stop).

use std::time::{Duration, Instant};

use rand_pcg::rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::error::{CoreError, CoreResult, Violation};

mod location;

/// One single-source instance: `m` sites, `n` customers.
pub struct Instance<'a> {
    m: usize,
    n: usize,
    /// Assignment cost, customer-major: `cost[j * m + i]` (infinite: arc not allowed).
    cost: Vec<f64>,
    demand: &'a [f64],
    capacity: &'a [f64],
    fixed: &'a [f64],
}

impl<'a> Instance<'a> {
    /// Validates and stores an instance. `cost_site_major` is `(m, n)` row-major
    /// (`cost[i * n + j]`), `+inf` where site `i` may not serve customer `j`; NaN and
    /// `-inf` are refused, as are negative or non-finite demands, capacities and fixed costs.
    pub fn new(
        cost_site_major: &[f64],
        demand: &'a [f64],
        capacity: &'a [f64],
        fixed: &'a [f64],
    ) -> CoreResult<Self> {
        let (m, n) = (capacity.len(), demand.len());
        let mut bad = Vec::new();
        if fixed.len() != m {
            bad.push(Violation::new(
                "fixed",
                None,
                format!("has {} entries, capacity has {m}", fixed.len()),
            ));
        }
        if cost_site_major.len() != m.saturating_mul(n) {
            bad.push(Violation::new(
                "cost",
                None,
                format!(
                    "has {} entries, expected sites x customers = {m} x {n}",
                    cost_site_major.len()
                ),
            ));
        }
        check_non_negative(&mut bad, "demand", demand);
        check_non_negative(&mut bad, "capacity", capacity);
        check_non_negative(&mut bad, "fixed", fixed);
        if let Some(k) = cost_site_major
            .iter()
            .position(|c| c.is_nan() || *c == f64::NEG_INFINITY)
        {
            bad.push(Violation::new(
                "cost",
                Some(k),
                "must be a number or +inf (arc not allowed)",
            ));
        }
        if !bad.is_empty() {
            return Err(CoreError::InvalidInput(bad));
        }
        let mut cost = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                cost[j * m + i] = cost_site_major[i * n + j];
            }
        }
        Ok(Self {
            m,
            n,
            cost,
            demand,
            capacity,
            fixed,
        })
    }

    #[inline]
    fn c(&self, j: usize, i: usize) -> f64 {
        self.cost[j * self.m + i]
    }

    /// The cost of a complete plan (fixed costs of the sites in use plus arc costs) and its
    /// total overload.
    pub fn evaluate(&self, assign: &[usize]) -> (f64, f64) {
        let mut load = vec![0.0; self.m];
        let mut used = vec![false; self.m];
        let mut total = 0.0;
        for (j, &i) in assign.iter().enumerate() {
            load[i] += self.demand[j];
            used[i] = true;
            total += self.c(j, i);
        }
        let mut over = 0.0;
        for i in 0..self.m {
            if used[i] {
                total += self.fixed[i];
            }
            over += excess(load[i], self.capacity[i]);
        }
        (total, over)
    }
}

fn check_non_negative(bad: &mut Vec<Violation>, field: &str, values: &[f64]) {
    if let Some(k) = values.iter().position(|v| !v.is_finite() || *v < 0.0) {
        bad.push(Violation::new(
            field,
            Some(k),
            "must be finite and at least 0",
        ));
    }
}

/// Limits of one search.
#[derive(Clone, Debug)]
pub struct SearchOptions {
    /// Wall-clock safety stop.
    pub time_limit: Duration,
    /// Iterations (moves) in all; the search is reproducible when this binds first.
    pub max_iterations: u64,
    /// Iterations without a better plan before a perturbation.
    pub stall_iterations: u64,
    pub seed: u64,
    /// Stop as soon as a feasible plan costs at most this (a proven lower bound: nothing
    /// better exists); `-inf` never stops early.
    pub stop_at_cost: f64,
}

/// The best feasible plan found.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub assign: Vec<usize>,
    pub cost: f64,
    pub iterations: u64,
}

/// Whether `cost` beats `best` by more than float noise (any finite cost beats infinity).
fn better(cost: f64, best: f64) -> bool {
    if best.is_infinite() {
        return cost.is_finite();
    }
    cost < best - 1e-9 * best.abs().max(1.0)
}

#[inline]
fn excess(load: f64, cap: f64) -> f64 {
    (load - cap).max(0.0)
}

/// Location steps between returns to the best plan.
const RETURN_EVERY: u64 = 8;

/// Relative slack under which a load counts as within capacity (float sums of demands).
const CAP_TOL: f64 = 1e-9;

/// Customer moves `(customer, to site)` of one location step.
type Moves = Vec<(usize, usize)>;

struct State {
    a: Vec<usize>,
    load: Vec<f64>,
    count: Vec<u32>,
}

#[derive(Clone, Copy)]
enum Move {
    Shift { j: usize, to: usize },
    Swap { j1: usize, j2: usize },
}

struct Chosen {
    mv: Move,
    score: f64,
    d_cost: f64,
    ties: u32,
}

struct Search<'i, 'a> {
    inst: &'i Instance<'a>,
    st: State,
    cost: f64,
    penalty: f64,
    /// Bounds of the overload price: the oscillation never leaves them (no overflow).
    penalty_range: (f64, f64),
    tabu_until: Vec<u64>,
    rng: Pcg64Mcg,
    iter: u64,
    /// Location step before which a site may not be opened or closed again.
    site_tabu: Vec<u64>,
    location_steps: u64,
}

/// Improves `start` (a site per customer; it may overload sites) and returns the best
/// feasible plan met, or `None` when none was met before the limits.
pub fn improve(
    inst: &Instance<'_>,
    start: &[i64],
    opts: &SearchOptions,
) -> CoreResult<Option<Plan>> {
    if start.len() != inst.n {
        return Err(CoreError::invalid(
            "start",
            None,
            format!(
                "has {} entries, one per customer ({}) expected",
                start.len(),
                inst.n
            ),
        ));
    }
    let mut a = Vec::with_capacity(inst.n);
    for (j, &i) in start.iter().enumerate() {
        let ok = usize::try_from(i)
            .ok()
            .filter(|&i| i < inst.m && inst.c(j, i).is_finite());
        match ok {
            Some(i) => a.push(i),
            None => {
                return Err(CoreError::invalid(
                    "start",
                    Some(j),
                    format!("site {i} is not a site that may serve this customer"),
                ))
            }
        }
    }
    if inst.n == 0 {
        return Ok(Some(Plan {
            assign: a,
            cost: 0.0,
            iterations: 0,
        }));
    }
    let mut search = Search::new(inst, a, opts.seed);
    Ok(search.run(opts))
}

impl<'i, 'a> Search<'i, 'a> {
    fn new(inst: &'i Instance<'a>, a: Vec<usize>, seed: u64) -> Self {
        let mut load = vec![0.0; inst.m];
        let mut count = vec![0u32; inst.m];
        for (j, &i) in a.iter().enumerate() {
            load[i] += inst.demand[j];
            count[i] += 1;
        }
        let (cost, _) = inst.evaluate(&a);
        let p0 = initial_penalty(inst);
        Self {
            inst,
            st: State { a, load, count },
            cost,
            penalty: p0,
            penalty_range: (p0 * 1e-3, p0 * 1e6),
            tabu_until: vec![0; inst.n * inst.m],
            rng: Pcg64Mcg::seed_from_u64(seed),
            iter: 0,
            site_tabu: vec![0; inst.m],
            location_steps: 0,
        }
    }

    fn feasible(&self) -> bool {
        let inst = self.inst;
        (0..inst.m).all(|i| self.st.load[i] <= inst.capacity[i] * (1.0 + CAP_TOL) + CAP_TOL)
    }

    fn run(&mut self, opts: &SearchOptions) -> Option<Plan> {
        let started = Instant::now();
        let mut best: Option<(Vec<usize>, f64)> = None;
        if self.feasible() {
            best = Some((self.st.a.clone(), self.cost));
            if self.cost <= opts.stop_at_cost {
                return best.map(|(assign, cost)| Plan {
                    assign,
                    cost,
                    iterations: 0,
                });
            }
        }
        let mut last_better = 0u64;
        let mut feasible_run = 0u32;
        let mut window = 0u32;
        while self.iter < opts.max_iterations {
            if self.iter.is_multiple_of(16) && started.elapsed() >= opts.time_limit {
                break;
            }
            self.iter += 1;
            let best_cost = best.as_ref().map_or(f64::INFINITY, |b| b.1);
            match self.choose(best_cost) {
                Some(ch) => self.apply(ch),
                None => {
                    self.perturb(best.as_ref().map(|b| b.0.as_slice()));
                    last_better = self.iter;
                }
            }
            let feasible = self.feasible();
            if feasible && better(self.cost, best_cost) {
                // Re-add from scratch: no drift from summed deltas in the stored best.
                let (exact, _) = self.inst.evaluate(&self.st.a);
                self.cost = exact;
                best = Some((self.st.a.clone(), exact));
                last_better = self.iter;
                if exact <= opts.stop_at_cost {
                    break;
                }
            }
            // Strategic oscillation of the overload price, judged every 10 iterations.
            feasible_run += u32::from(feasible);
            window += 1;
            if window == 10 {
                if feasible_run == 0 {
                    self.penalty = (self.penalty * 1.5).min(self.penalty_range.1);
                } else if feasible_run == 10 {
                    self.penalty = (self.penalty / 1.5).max(self.penalty_range.0);
                }
                feasible_run = 0;
                window = 0;
            }
            if self.iter - last_better >= opts.stall_iterations {
                self.perturb(best.as_ref().map(|b| b.0.as_slice()));
                last_better = self.iter;
            }
        }
        best.map(|(assign, cost)| Plan {
            assign,
            cost,
            iterations: self.iter,
        })
    }

    /// The best admissible move by penalised change (ties broken at random), or `None`
    /// when every move is tabu or impossible.
    fn choose(&mut self, best_cost: f64) -> Option<Chosen> {
        let mut chosen: Option<Chosen> = None;
        self.scan_shifts(best_cost, &mut chosen);
        self.scan_swaps(best_cost, &mut chosen);
        chosen
    }

    fn offer(&mut self, chosen: &mut Option<Chosen>, mv: Move, score: f64, d_cost: f64) {
        match chosen {
            Some(c) if score > c.score + 1e-12 * c.score.abs().max(1.0) => {}
            Some(c) if score >= c.score - 1e-12 * c.score.abs().max(1.0) => {
                c.ties += 1;
                if self.rng.next_u32().is_multiple_of(c.ties) {
                    c.mv = mv;
                    c.score = score;
                    c.d_cost = d_cost;
                }
            }
            _ => {
                *chosen = Some(Chosen {
                    mv,
                    score,
                    d_cost,
                    ties: 1,
                })
            }
        }
    }

    /// Whether a tabu move may still be taken: it gives a feasible plan better than `best`.
    fn aspires(&self, new_cost: f64, new_over_total: f64, best_cost: f64) -> bool {
        new_over_total <= 0.0 && better(new_cost, best_cost)
    }

    fn total_excess(&self) -> f64 {
        let inst = self.inst;
        (0..inst.m)
            .map(|i| {
                excess(
                    self.st.load[i],
                    inst.capacity[i] * (1.0 + CAP_TOL) + CAP_TOL,
                )
            })
            .sum()
    }

    fn scan_shifts(&mut self, best_cost: f64, chosen: &mut Option<Chosen>) {
        let inst = self.inst;
        let (m, p) = (inst.m, self.penalty);
        let over_now = self.total_excess();
        for j in 0..inst.n {
            let a = self.st.a[j];
            let dj = inst.demand[j];
            let (la, sa) = (self.st.load[a], inst.capacity[a]);
            let out_cost = -inst.c(j, a)
                - if self.st.count[a] == 1 {
                    inst.fixed[a]
                } else {
                    0.0
                };
            let out_over = excess(la - dj, sa) - excess(la, sa);
            let row = &inst.cost[j * m..(j + 1) * m];
            for (b, &cb) in row.iter().enumerate() {
                if b == a || !cb.is_finite() {
                    continue;
                }
                let (lb, sb) = (self.st.load[b], inst.capacity[b]);
                let d_cost = out_cost
                    + cb
                    + if self.st.count[b] == 0 {
                        inst.fixed[b]
                    } else {
                        0.0
                    };
                let d_over = out_over + excess(lb + dj, sb) - excess(lb, sb);
                let score = d_cost + p * d_over;
                if let Some(c) = chosen {
                    if score > c.score + 1e-12 * c.score.abs().max(1.0) {
                        continue;
                    }
                }
                if self.tabu_until[j * m + b] > self.iter
                    && !self.aspires(
                        self.cost + d_cost,
                        (over_now + d_over).max(0.0) - 1e-9,
                        best_cost,
                    )
                {
                    continue;
                }
                self.offer(chosen, Move::Shift { j, to: b }, score, d_cost);
            }
        }
    }

    fn scan_swaps(&mut self, best_cost: f64, chosen: &mut Option<Chosen>) {
        let inst = self.inst;
        let (m, p) = (inst.m, self.penalty);
        let over_now = self.total_excess();
        for j1 in 0..inst.n {
            let a1 = self.st.a[j1];
            let d1 = inst.demand[j1];
            let c11 = inst.c(j1, a1);
            let (l1, s1) = (self.st.load[a1], inst.capacity[a1]);
            let e1 = excess(l1, s1);
            for j2 in (j1 + 1)..inst.n {
                let a2 = self.st.a[j2];
                if a2 == a1 {
                    continue;
                }
                let c12 = inst.cost[j1 * m + a2];
                let c21 = inst.cost[j2 * m + a1];
                if !c12.is_finite() || !c21.is_finite() {
                    continue;
                }
                let d2 = inst.demand[j2];
                let d_cost = c12 + c21 - c11 - inst.cost[j2 * m + a2];
                let (l2, s2) = (self.st.load[a2], inst.capacity[a2]);
                let d_over =
                    excess(l1 - d1 + d2, s1) - e1 + excess(l2 - d2 + d1, s2) - excess(l2, s2);
                let score = d_cost + p * d_over;
                if let Some(c) = chosen {
                    if score > c.score + 1e-12 * c.score.abs().max(1.0) {
                        continue;
                    }
                }
                let tabu = self.tabu_until[j1 * m + a2] > self.iter
                    || self.tabu_until[j2 * m + a1] > self.iter;
                if tabu
                    && !self.aspires(
                        self.cost + d_cost,
                        (over_now + d_over).max(0.0) - 1e-9,
                        best_cost,
                    )
                {
                    continue;
                }
                self.offer(chosen, Move::Swap { j1, j2 }, score, d_cost);
            }
        }
    }

    fn tenure(&mut self) -> u64 {
        let span = (self.inst.n as u64 / 20).max(5);
        7 + u64::from(self.rng.next_u32()) % span
    }

    fn apply(&mut self, ch: Chosen) {
        match ch.mv {
            Move::Shift { j, to } => {
                let from = self.st.a[j];
                self.relocate(j, to);
                let t = self.tenure();
                self.tabu_until[j * self.inst.m + from] = self.iter + t;
            }
            Move::Swap { j1, j2 } => {
                let (a1, a2) = (self.st.a[j1], self.st.a[j2]);
                self.relocate(j1, a2);
                self.relocate(j2, a1);
                let m = self.inst.m;
                let t1 = self.tenure();
                let t2 = self.tenure();
                self.tabu_until[j1 * m + a1] = self.iter + t1;
                self.tabu_until[j2 * m + a2] = self.iter + t2;
            }
        }
        self.cost += ch.d_cost;
    }

    /// Moves customer `j` to site `to`, keeping loads and counts (not the cost).
    fn relocate(&mut self, j: usize, to: usize) {
        let from = self.st.a[j];
        let d = self.inst.demand[j];
        self.st.load[from] -= d;
        self.st.count[from] -= 1;
        if self.st.count[from] == 0 {
            self.st.load[from] = 0.0;
        }
        self.st.load[to] += d;
        self.st.count[to] += 1;
        self.st.a[j] = to;
    }

    fn reset_state(&mut self, a: Vec<usize>) {
        let inst = self.inst;
        let mut load = vec![0.0; inst.m];
        let mut count = vec![0u32; inst.m];
        for (j, &i) in a.iter().enumerate() {
            load[i] += inst.demand[j];
            count[i] += 1;
        }
        self.st = State { a, load, count };
    }
}

/// A first price per unit of overload: the mean allowed arc cost per unit of mean demand.
fn initial_penalty(inst: &Instance<'_>) -> f64 {
    let (mut sum, mut k) = (0.0, 0usize);
    for &c in &inst.cost {
        if c.is_finite() {
            sum += c.abs();
            k += 1;
        }
    }
    let mean_d = inst.demand.iter().sum::<f64>() / inst.n.max(1) as f64;
    let mean_f = inst.fixed.iter().sum::<f64>() / inst.m.max(1) as f64;
    let mean_c = if k == 0 { 1.0 } else { sum / k as f64 };
    ((mean_c + mean_f / inst.n.max(1) as f64) / mean_d.max(1e-12)).max(1e-9)
}

#[cfg(test)]
mod tests;
