//! Deferred acceptance (Gale-Shapley) for the hospital-resident problem.
//!
//! Proposers (rows) propose along their preference lists to receivers (columns) with
//! integer capacities. An edge `(row, col)` is an acceptable pair with two scores: the
//! proposer's and the receiver's. Each side prefers a higher score; ties are broken by
//! the lower index on the other side, so preferences are strict and the
//! proposer-optimal stable matching is unique.
//!
//! Layout: a CSR by proposer, each list sorted by preference (parallel over proposers),
//! and one bounded binary min-heap of held proposals per receiver (the worst held
//! proposal on top), so a proposal costs O(log cap). Total O(E log E_row + E log cap).

use rayon::prelude::*;

use crate::budget::Need;
use crate::error::{CoreError, CoreResult};

/// Map an f64 (not NaN) to a u64 whose unsigned order is the float's total order.
#[inline]
fn ordered_bits(x: f64) -> u64 {
    // -0.0 and 0.0 compare equal as scores.
    let x = if x == 0.0 { 0.0 } else { x };
    let b = x.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

/// Check the edge arrays; returns the number of proposers.
fn validate(
    rows: &[i64],
    cols: &[i64],
    proposer_scores: &[f64],
    receiver_scores: &[f64],
    capacities: &[i64],
    n_proposers: Option<usize>,
) -> CoreResult<usize> {
    let e = rows.len();
    for (name, len) in [
        ("cols", cols.len()),
        ("proposer_scores", proposer_scores.len()),
        ("receiver_scores", receiver_scores.len()),
    ] {
        if len != e {
            return Err(CoreError::invalid(
                name,
                None,
                format!("has {len} entries but rows has {e}"),
            ));
        }
    }
    if let Some((i, c)) = capacities.iter().enumerate().find(|(_, &c)| c < 0) {
        return Err(CoreError::invalid(
            "capacities",
            Some(i),
            format!("negative capacity {c}"),
        ));
    }
    let m = capacities.len() as i64;
    let max_row = rows.iter().copied().max().unwrap_or(-1);
    let n = match n_proposers {
        Some(n) => n,
        None => usize::try_from(max_row + 1).unwrap_or(0),
    };
    if n > u32::MAX as usize || capacities.len() > u32::MAX as usize {
        return Err(CoreError::invalid(
            "rows",
            None,
            "more than 2^32 - 1 proposers or receivers",
        ));
    }
    for i in 0..e {
        let (r, c) = (rows[i], cols[i]);
        if r < 0 || r as u64 >= n as u64 {
            return Err(CoreError::invalid(
                "rows",
                Some(i),
                format!("proposer index {r} outside [0, {n})"),
            ));
        }
        if c < 0 || c >= m {
            return Err(CoreError::invalid(
                "cols",
                Some(i),
                format!("receiver index {c} outside [0, {m}) (len(capacities))"),
            ));
        }
        if proposer_scores[i].is_nan() {
            return Err(CoreError::invalid("proposer_scores", Some(i), "NaN score"));
        }
        if receiver_scores[i].is_nan() {
            return Err(CoreError::invalid("receiver_scores", Some(i), "NaN score"));
        }
    }
    Ok(n)
}

/// One entry of a proposer's list: the receiver, the proposer's key and the receiver's key.
#[derive(Clone, Copy)]
struct Entry {
    col: u32,
    pkey: u64,
    rkey: u64,
    /// Index of the edge in the caller's arrays (for error messages).
    edge: usize,
}

/// The proposer-optimal stable matching.
///
/// `rows[i]`, `cols[i]` is an acceptable pair; `proposer_scores[i]` how much the proposer
/// likes it, `receiver_scores[i]` how much the receiver likes it (higher is better, ties to
/// the lower index of the other side). `capacities[c]` is receiver `c`'s number of seats;
/// the number of receivers is `capacities.len()`. `n_proposers` defaults to
/// `max(rows) + 1`. Returns, per proposer, its receiver or -1.
///
/// Errors: mismatched lengths, indices out of range, NaN scores, negative capacities and
/// duplicate pairs are `InvalidInput` naming the field and edge.
pub fn deferred_acceptance(
    rows: &[i64],
    cols: &[i64],
    proposer_scores: &[f64],
    receiver_scores: &[f64],
    capacities: &[i64],
    n_proposers: Option<usize>,
) -> CoreResult<Vec<i64>> {
    let n = validate(
        rows,
        cols,
        proposer_scores,
        receiver_scores,
        capacities,
        n_proposers,
    )?;
    let m = capacities.len();
    let e = rows.len();
    // Working memory: per proposer the list offsets (twice while filling), the next
    // choice, the stack and the result; per edge one sorted entry.
    Need::new("n_proposers")
        .items(n, 8 + 8 + 4 + 4 + 8)
        .items(e, std::mem::size_of::<Entry>())
        .check()?;

    // CSR by proposer (counting sort, stable in edge order).
    let mut indptr = vec![0_usize; n + 1];
    for &r in rows {
        indptr[r as usize + 1] += 1;
    }
    for i in 0..n {
        indptr[i + 1] += indptr[i];
    }
    let mut fill = indptr.clone();
    let mut entries = vec![
        Entry {
            col: 0,
            pkey: 0,
            rkey: 0,
            edge: 0
        };
        e
    ];
    for i in 0..e {
        let r = rows[i] as usize;
        let at = fill[r];
        fill[r] += 1;
        entries[at] = Entry {
            col: cols[i] as u32,
            pkey: ordered_bits(proposer_scores[i]),
            rkey: ordered_bits(receiver_scores[i]),
            edge: i,
        };
    }
    drop(fill);

    // Sort each list in place by receiver to find duplicates, then by preference;
    // blocks of proposers run in parallel.
    const BLOCK: usize = 4096;
    let mut blocks: Vec<(usize, &mut [Entry])> = Vec::with_capacity(n.div_ceil(BLOCK));
    {
        let mut rest: &mut [Entry] = &mut entries;
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            let len = indptr[end] - indptr[start];
            let (a, b) = std::mem::take(&mut rest).split_at_mut(len);
            blocks.push((start, a));
            rest = b;
            start = end;
        }
    }
    let duplicate = blocks
        .par_iter_mut()
        .filter_map(|(first, block)| {
            let base = indptr[*first];
            let last = (*first + BLOCK).min(n);
            let mut dup: Option<usize> = None;
            for r in *first..last {
                let list = &mut block[indptr[r] - base..indptr[r + 1] - base];
                list.sort_unstable_by_key(|en| (en.col, en.edge));
                if let Some(w) = list.windows(2).find(|w| w[0].col == w[1].col) {
                    dup = Some(dup.map_or(w[1].edge, |d| d.min(w[1].edge)));
                }
                // Preference: higher score first, then the lower receiver index.
                list.sort_unstable_by(|a, b| b.pkey.cmp(&a.pkey).then(a.col.cmp(&b.col)));
            }
            dup
        })
        .min();
    drop(blocks);
    if let Some(i) = duplicate {
        return Err(CoreError::invalid(
            "cols",
            Some(i),
            "duplicate (row, col) pair",
        ));
    }

    // Per-receiver heaps: seats = min(capacity, in-degree).
    let mut indeg = vec![0_usize; m];
    for en in &entries {
        indeg[en.col as usize] += 1;
    }
    let mut heap_start = vec![0_usize; m + 1];
    for c in 0..m {
        let seats = (capacities[c] as u64).min(indeg[c] as u64) as usize;
        heap_start[c + 1] = heap_start[c] + seats;
    }
    drop(indeg);
    // Held proposal: (receiver key << 32 | !proposer) as u128; larger is better.
    let mut heap = vec![0_u128; heap_start[m]];
    let mut heap_len = vec![0_u32; m];
    let mut next = vec![0_u32; n];
    let mut stack: Vec<u32> = (0..n as u32).rev().collect();

    while let Some(p) = stack.pop() {
        let mut cur = p;
        // `cur` proposes until it is held or exhausts its list; a displaced proposer
        // continues in its place.
        loop {
            let cu = cur as usize;
            let s = indptr[cu];
            let l = indptr[cu + 1] - s;
            let k = next[cu] as usize;
            if k >= l {
                break;
            }
            next[cu] += 1;
            let en = entries[s + k];
            let c = en.col as usize;
            let key = (u128::from(en.rkey) << 32) | u128::from(!cur);
            let h0 = heap_start[c];
            let cap = heap_start[c + 1] - h0;
            let h = &mut heap[h0..h0 + cap];
            let hl = heap_len[c] as usize;
            if hl < cap {
                sift_up(h, hl, key);
                heap_len[c] += 1;
                break;
            }
            if cap == 0 || key <= h[0] {
                continue; // rejected: propose further down the list
            }
            let worst = h[0];
            sift_down(h, key);
            cur = !(worst as u32);
        }
    }

    let mut out = vec![-1_i64; n];
    for c in 0..m {
        let h0 = heap_start[c];
        for &key in &heap[h0..h0 + heap_len[c] as usize] {
            out[!(key as u32) as usize] = c as i64;
        }
    }
    Ok(out)
}

/// Insert `key` into the min-heap `h[..len]` (h has room at `len`).
#[inline]
fn sift_up(h: &mut [u128], len: usize, key: u128) {
    let mut i = len;
    while i > 0 {
        let parent = (i - 1) / 2;
        if h[parent] <= key {
            break;
        }
        h[i] = h[parent];
        i = parent;
    }
    h[i] = key;
}

/// Replace the minimum of the full min-heap `h` by `key`.
#[inline]
fn sift_down(h: &mut [u128], key: u128) {
    let len = h.len();
    let mut i = 0;
    loop {
        let l = 2 * i + 1;
        if l >= len {
            break;
        }
        let r = l + 1;
        let child = if r < len && h[r] < h[l] { r } else { l };
        if h[child] >= key {
            break;
        }
        h[i] = h[child];
        i = child;
    }
    h[i] = key;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Textbook DA on explicit lists, one proposal per round, for cross-checking.
    fn reference(n: usize, edges: &[(usize, usize, f64, f64)], caps: &[i64]) -> Vec<i64> {
        let mut lists: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
        let mut rscore = std::collections::HashMap::new();
        for &(r, c, ps, rs) in edges {
            lists[r].push((c, ps));
            rscore.insert((r, c), rs);
        }
        for l in &mut lists {
            l.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
        }
        let mut held: Vec<Vec<usize>> = vec![Vec::new(); caps.len()];
        let mut next = vec![0; n];
        let mut free: Vec<usize> = (0..n).collect();
        while let Some(p) = free.pop() {
            if next[p] >= lists[p].len() {
                continue;
            }
            let c = lists[p][next[p]].0;
            next[p] += 1;
            held[c].push(p);
            held[c].sort_by(|&a, &b| {
                rscore[&(b, c)]
                    .partial_cmp(&rscore[&(a, c)])
                    .unwrap()
                    .then(a.cmp(&b))
            });
            if held[c].len() > caps[c] as usize {
                free.push(held[c].pop().unwrap());
            }
        }
        let mut out = vec![-1; n];
        for (c, h) in held.iter().enumerate() {
            for &p in h {
                out[p] = c as i64;
            }
        }
        out
    }

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        *seed >> 33
    }

    #[test]
    fn matches_reference_on_random_instances() {
        let mut seed = 7_u64;
        for _ in 0..200 {
            let n = (lcg(&mut seed) % 12) as usize + 1;
            let m = (lcg(&mut seed) % 6) as usize + 1;
            let caps: Vec<i64> = (0..m).map(|_| (lcg(&mut seed) % 3) as i64).collect();
            let mut edges = Vec::new();
            for r in 0..n {
                for c in 0..m {
                    if lcg(&mut seed).is_multiple_of(2) {
                        // Small score ranges force ties.
                        let ps = (lcg(&mut seed) % 3) as f64;
                        let rs = (lcg(&mut seed) % 3) as f64;
                        edges.push((r, c, ps, rs));
                    }
                }
            }
            let rows: Vec<i64> = edges.iter().map(|e| e.0 as i64).collect();
            let cols: Vec<i64> = edges.iter().map(|e| e.1 as i64).collect();
            let ps: Vec<f64> = edges.iter().map(|e| e.2).collect();
            let rs: Vec<f64> = edges.iter().map(|e| e.3).collect();
            let got = deferred_acceptance(&rows, &cols, &ps, &rs, &caps, Some(n)).unwrap();
            assert_eq!(got, reference(n, &edges, &caps));
        }
    }

    #[test]
    fn bad_input_names_the_field() {
        let err = |r: CoreResult<Vec<i64>>| match r {
            Err(CoreError::InvalidInput(v)) => (v[0].field.clone(), v[0].row),
            other => panic!("expected invalid input, got {other:?}"),
        };
        assert_eq!(
            err(deferred_acceptance(
                &[0],
                &[0, 1],
                &[1.0],
                &[1.0],
                &[1],
                None
            )),
            ("cols".into(), None)
        );
        assert_eq!(
            err(deferred_acceptance(&[0], &[2], &[1.0], &[1.0], &[1], None)),
            ("cols".into(), Some(0))
        );
        assert_eq!(
            err(deferred_acceptance(
                &[0],
                &[0],
                &[f64::NAN],
                &[1.0],
                &[1],
                None
            )),
            ("proposer_scores".into(), Some(0))
        );
        assert_eq!(
            err(deferred_acceptance(&[0], &[0], &[1.0], &[1.0], &[-1], None)),
            ("capacities".into(), Some(0))
        );
        assert_eq!(
            err(deferred_acceptance(
                &[0, 0],
                &[0, 0],
                &[1.0, 2.0],
                &[1.0, 1.0],
                &[1],
                None
            )),
            ("cols".into(), Some(1))
        );
        assert_eq!(
            err(deferred_acceptance(
                &[-1],
                &[0],
                &[1.0],
                &[1.0],
                &[1],
                Some(2)
            )),
            ("rows".into(), Some(0))
        );
    }

    #[test]
    fn empty_and_zero_capacity() {
        assert_eq!(
            deferred_acceptance(&[], &[], &[], &[], &[], Some(3)).unwrap(),
            vec![-1, -1, -1]
        );
        assert_eq!(
            deferred_acceptance(&[0, 1], &[0, 0], &[1.0, 1.0], &[1.0, 2.0], &[0], None).unwrap(),
            vec![-1, -1]
        );
        // Receiver prefers proposer 1 (higher score); ties go to the lower index.
        assert_eq!(
            deferred_acceptance(&[0, 1], &[0, 0], &[1.0, 1.0], &[1.0, 2.0], &[1], None).unwrap(),
            vec![-1, 0]
        );
        assert_eq!(
            deferred_acceptance(&[0, 1], &[0, 0], &[1.0, 1.0], &[2.0, 2.0], &[1], None).unwrap(),
            vec![0, -1]
        );
    }
}
