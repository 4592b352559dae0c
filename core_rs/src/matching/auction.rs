//! Forward auction with epsilon-scaling and a reservation value per row (Bertsekas).
//!
//! Used as the fast start of the exact sparse solver: it brings the column prices close
//! to an equilibrium in near-linear time on random and geographic graphs, where shortest
//! augmenting paths alone grow super-linearly. Its output needs no guarantee: the exact
//! shortest-path phase that follows accepts any prices and repairs every violation of
//! complementary slackness. A work budget therefore stops price wars (for example in
//! rows that cannot all be matched) instead of letting them run.

use std::collections::VecDeque;

use super::sparse::Graph;

const NONE: u32 = u32::MAX;
/// Rounds per phase that reset the prices of objects nobody holds and re-queue free rows.
const SETTLE_ROUNDS: usize = 16;

/// Settings of one auction run (scores and prices in the same scaled integer unit).
pub(crate) struct AuctionPlan {
    /// Epsilon of the first phase (>= 1); each phase divides it by `factor` down to 1.
    pub eps_start: i64,
    pub factor: i64,
    /// Value of staying unmatched: 0 for the outside option, very negative when every row
    /// should be matched.
    pub reserve: i64,
    /// Maximum number of edge scans over all phases.
    pub budget: usize,
}

/// Run the auction; raises `prices` in place and returns the column of each row
/// (`u32::MAX` when unassigned). Gauss-Seidel bidding, FIFO queue of free rows.
pub(crate) fn auction(g: &Graph, prices: &mut [i64], plan: &AuctionPlan) -> Vec<u32> {
    let n = g.n();
    let mut owner = vec![NONE; prices.len()];
    let mut assign = vec![NONE; n];
    let mut eps = plan.eps_start.max(1);
    let mut work = 0usize;
    let mut queue: VecDeque<u32> = VecDeque::with_capacity(n);
    loop {
        owner.fill(NONE);
        assign.fill(NONE);
        queue.clear();
        queue.extend(0..n as u32);
        for _settle in 0..SETTLE_ROUNDS {
            while let Some(i) = queue.pop_front() {
                let range = g.edges(i as usize);
                work += range.len();
                let (mut v1, mut v2) = (plan.reserve, plan.reserve);
                let (mut j1, mut w1) = (NONE, 0i64);
                for e in range {
                    let j = g.adj[e];
                    let v = g.w[e] - prices[j as usize];
                    if v > v1 {
                        v2 = v1;
                        v1 = v;
                        j1 = j;
                        w1 = g.w[e];
                    } else if v > v2 {
                        v2 = v;
                    }
                }
                if j1 == NONE {
                    continue;
                }
                prices[j1 as usize] = w1 - v2 + eps;
                let previous = owner[j1 as usize];
                owner[j1 as usize] = i;
                assign[i as usize] = j1;
                if previous != NONE {
                    assign[previous as usize] = NONE;
                    queue.push_back(previous);
                }
                if work > plan.budget {
                    return assign;
                }
            }
            // With an outside option, objects nobody holds must end at price 0; dropping
            // stale prices lets the rows that walked away bid again.
            let mut stale = false;
            if plan.reserve >= 0 {
                for (j, price) in prices.iter_mut().enumerate() {
                    if owner[j] == NONE && *price > 0 {
                        *price = 0;
                        stale = true;
                    }
                }
            }
            if !stale {
                break;
            }
            // Re-queue free rows, and held rows that the lower prices leave more than
            // epsilon away from their best value.
            #[allow(clippy::needless_range_loop)]
            for i in 0..n {
                let held = assign[i];
                let mut best = plan.reserve;
                let mut held_value = i64::MIN;
                for e in g.edges(i) {
                    let j = g.adj[e];
                    let v = g.w[e] - prices[j as usize];
                    best = best.max(v);
                    if j == held {
                        held_value = held_value.max(v);
                    }
                }
                if held == NONE {
                    if best > plan.reserve {
                        queue.push_back(i as u32);
                    }
                } else if held_value + eps < best {
                    owner[held as usize] = NONE;
                    assign[i] = NONE;
                    queue.push_back(i as u32);
                }
            }
            work += g.adj.len();
        }
        if eps == 1 {
            return assign;
        }
        eps = (eps / plan.factor.max(2)).max(1);
    }
}
