//! The location moves of the search: when the moves of customers stall, one site is
//! closed (its customers placed greedily), one closed site opened (taking the customers
//! it serves cheaper), or both at once (a swap: where the open sites are few and full,
//! neither half alone pays for itself), the best of them by penalised change.

use rand_pcg::rand_core::Rng;

use super::{excess, Moves, Search, RETURN_EVERY};

/// A location move: its noisy penalised change, its customer moves, the site it closes or
/// opens and, for a swap, the site it opens.
struct Located {
    noisy: f64,
    moves: Moves,
    i: usize,
    k: Option<usize>,
}

impl Search<'_, '_> {
    /// Keeps `plan` in `chosen` when its change is the lowest so far (a little noise so
    /// equal moves take turns).
    fn consider(
        &mut self,
        chosen: &mut Option<Located>,
        plan: Option<(f64, Moves)>,
        i: usize,
        k: Option<usize>,
    ) {
        let Some((delta, moves)) = plan else {
            return;
        };
        let noisy = delta * (1.0 + 1e-3 * f64::from(self.rng.next_u32() % 1000) / 1000.0);
        if chosen.as_ref().is_none_or(|c| noisy < c.noisy) {
            *chosen = Some(Located { noisy, moves, i, k });
        }
    }

    /// Restart from `best` (or the current plan) with the best location move: one site
    /// closed (its customers placed greedily on the other open sites), one closed site
    /// opened (taking the customers it serves cheaper), or one swapped for the other, by
    /// penalised change, skipping sites moved in the last few location steps (ties and
    /// near-ties at random).
    pub(super) fn perturb(&mut self, best: Option<&[usize]>) {
        // Back to the best plan every few steps (intensify); otherwise on from where the
        // search stands (diversify).
        if let Some(b) = best.filter(|_| self.location_steps.is_multiple_of(RETURN_EVERY)) {
            self.reset_state(b.to_vec());
        }
        self.tabu_until.iter_mut().for_each(|t| *t = 0);
        let m = self.inst.m;
        let open = (0..m).filter(|&i| self.st.count[i] > 0).count();
        let steps = self.location_steps;
        let free = |tabu: &[u64], i: usize| tabu[i] <= steps;
        let mut chosen: Option<Located> = None;
        for i in 0..m {
            if !free(&self.site_tabu, i) {
                continue;
            }
            if self.st.count[i] == 0 {
                let plan = self.plan_open(i);
                self.consider(&mut chosen, plan, i, None);
                continue;
            }
            if open >= 2 {
                let plan = self.plan_close(i);
                self.consider(&mut chosen, plan, i, None);
            }
            for k in 0..m {
                if self.st.count[k] == 0 && free(&self.site_tabu, k) {
                    let plan = self.plan_swap(i, k);
                    self.consider(&mut chosen, plan, i, Some(k));
                }
            }
        }
        self.location_steps += 1;
        if let Some(Located { moves, i, k, .. }) = chosen {
            for (j, b) in moves {
                self.relocate(j, b);
            }
            for site in std::iter::once(i).chain(k) {
                let tenure = 2 + u64::from(self.rng.next_u32()) % (m as u64 / 8).max(2);
                self.site_tabu[site] = self.location_steps + tenure;
            }
        }
        let (cost, _) = self.inst.evaluate(&self.st.a);
        self.cost = cost;
    }

    /// Closing site `i`: each of its customers (largest demand first) to the open site where
    /// it adds the least penalised cost. `None` when a customer has nowhere else to go.
    pub(super) fn plan_close(&self, i: usize) -> Option<(f64, Moves)> {
        let mut load = self.st.load.clone();
        let mut count = self.st.count.clone();
        let mut moves = Vec::new();
        let delta = self.place_out(i, None, &mut load, &mut count, &mut moves)?;
        Some((delta, moves))
    }

    /// Opening site `i`: the customers it serves cheaper than their site does (penalties
    /// of their sites' overload included), best saving first, while its capacity lasts.
    pub(super) fn plan_open(&self, i: usize) -> Option<(f64, Moves)> {
        let mut load = self.st.load.clone();
        let mut count = self.st.count.clone();
        let mut moves = Vec::new();
        let delta = self.inst.fixed[i] + self.take_in(i, None, &mut load, &mut count, &mut moves);
        (!moves.is_empty()).then_some((delta, moves))
    }

    /// Closing open site `i` and opening closed site `k` at once: `i`'s customers (largest
    /// demand first) to the open site or `k` where they add the least penalised cost, then
    /// the other customers `k` serves cheaper, best saving first, while its capacity lasts.
    /// `None` when one of `i`'s customers has nowhere to go.
    pub(super) fn plan_swap(&self, i: usize, k: usize) -> Option<(f64, Moves)> {
        let mut load = self.st.load.clone();
        let mut count = self.st.count.clone();
        let mut moves = Vec::new();
        let out = self.place_out(i, Some(k), &mut load, &mut count, &mut moves)?;
        let delta =
            self.inst.fixed[k] + out + self.take_in(k, Some(i), &mut load, &mut count, &mut moves);
        Some((delta, moves))
    }

    /// Closes site `i` in `load`/`count`: its customers (largest demand first) to the open
    /// site, or `also` (a site being opened), where each adds the least penalised cost,
    /// appended to `moves`. The change in penalised cost (`i`'s fixed cost saved), or `None`
    /// when a customer has nowhere to go.
    fn place_out(
        &self,
        i: usize,
        also: Option<usize>,
        load: &mut [f64],
        count: &mut [u32],
        moves: &mut Moves,
    ) -> Option<f64> {
        let inst = self.inst;
        let p = self.penalty;
        let mut custs: Vec<usize> = (0..inst.n).filter(|&j| self.st.a[j] == i).collect();
        custs.sort_by(|&x, &y| inst.demand[y].total_cmp(&inst.demand[x]));
        let mut delta = -inst.fixed[i] - p * excess(load[i], inst.capacity[i]);
        for j in custs {
            let dj = inst.demand[j];
            let mut best: Option<(f64, usize)> = None;
            for (b, (&lb, &sb)) in load.iter().zip(inst.capacity).enumerate() {
                let cb = inst.c(j, b);
                if b == i || (count[b] == 0 && Some(b) != also) || !cb.is_finite() {
                    continue;
                }
                let v = cb + p * (excess(lb + dj, sb) - excess(lb, sb));
                if best.is_none_or(|(bv, _)| v < bv) {
                    best = Some((v, b));
                }
            }
            let (v, b) = best?;
            load[b] += dj;
            count[b] += 1;
            delta += v - inst.c(j, i);
            moves.push((j, b));
        }
        load[i] = 0.0;
        count[i] = 0;
        Some(delta)
    }

    /// Opens site `k` in `load`/`count`: the customers it serves cheaper than their site
    /// does, best saving first, while its capacity lasts, appended to `moves`; the customers
    /// of `closing` (already placed) are left where they went. The saving counts the relief
    /// of the customer's site overload only when nothing closes at the same time. Returns
    /// the change in penalised cost (fixed costs of sites left empty saved; `k`'s not added).
    fn take_in(
        &self,
        k: usize,
        closing: Option<usize>,
        load: &mut [f64],
        count: &mut [u32],
        moves: &mut Moves,
    ) -> f64 {
        let inst = self.inst;
        let (p, st) = (self.penalty, &self.st);
        let mut gains: Vec<(f64, usize)> = (0..inst.n)
            .filter_map(|j| {
                let (a, ck) = (st.a[j], inst.c(j, k));
                if Some(a) == closing || !ck.is_finite() {
                    return None;
                }
                let relief = if closing.is_some() {
                    0.0
                } else {
                    p * (excess(st.load[a], inst.capacity[a])
                        - excess(st.load[a] - inst.demand[j], inst.capacity[a]))
                };
                let gain = inst.c(j, a) - ck + relief;
                (gain > 0.0).then_some((gain, j))
            })
            .collect();
        gains.sort_by(|x, y| y.0.total_cmp(&x.0));
        let mut delta = 0.0;
        for (_, j) in gains {
            let (a, dj) = (st.a[j], inst.demand[j]);
            if load[k] + dj > inst.capacity[k] {
                continue;
            }
            let before = p * excess(load[a], inst.capacity[a]);
            load[a] -= dj;
            count[a] -= 1;
            let mut change =
                inst.c(j, k) - inst.c(j, a) + p * excess(load[a], inst.capacity[a]) - before;
            if count[a] == 0 {
                change -= inst.fixed[a];
            }
            load[k] += dj;
            count[k] += 1;
            delta += change;
            moves.push((j, k));
        }
        delta
    }
}
