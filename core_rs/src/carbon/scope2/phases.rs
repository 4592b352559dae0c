//! The two phases of [`super::run`]: per block of hours, each hour's splits and totals
//! ([`Block`]); then tenant by tenant, each row's figures recomputed from its own loads
//! ([`Rows`]).

use super::*;

/// Tenant-sum slots: load, pv, green, matched, location, market, loss shares.
pub(super) const SUMS: usize = 8;

/// The columns `cols` of a tenant-major `n x hours` array, hour-major into `out`
/// (`out[j * n + i]` is tenant `i` in hour `cols[j]`). Tiled by 8 tenants, so that each
/// write fills a whole cache line and the reads are 8 sequential streams.
pub(super) fn gather(values: &[i64], n: usize, hours: usize, cols: &[usize], out: &mut Vec<i64>) {
    const TILE: usize = 8;
    let width = cols.len();
    // Every slot is overwritten below: resize only (no clearing pass).
    out.resize(n * width, 0);
    let mut rows: [&[i64]; TILE] = [&[]; TILE];
    for i0 in (0..n).step_by(TILE) {
        let tile = TILE.min(n - i0);
        for (t, row) in rows.iter_mut().enumerate().take(tile) {
            *row = &values[(i0 + t) * hours..(i0 + t + 1) * hours];
        }
        for (j, &h) in cols.iter().enumerate() {
            let dst = &mut out[j * n + i0..j * n + i0 + tile];
            for (d, row) in dst.iter_mut().zip(&rows) {
                *d = row[h];
            }
        }
    }
}

/// What phase one reads besides the input.
pub(super) struct Block<'a> {
    pub(super) contracts: usize,
    pub(super) holders: &'a [Holders],
    /// The park's load per hour.
    pub(super) park_load: &'a [i64],
    pub(super) pv_parts_sum: i64,
    pub(super) gross_up: bool,
    /// Pro rata, no certificates, no gross-up (see [`scope2`]).
    pub(super) lazy: bool,
}

impl Block<'_> {
    /// Phase one over the hours `h0..h1`: per hour, an [`Hour`] (its `excess` is set after
    /// phase two); per hour and contract, the contract's split over its holders.
    pub(super) fn hours(
        &self,
        input: &Scope2Input<'_>,
        h0: usize,
        h1: usize,
        s: &mut Scratch,
    ) -> CoreResult<(Vec<Hour>, Vec<Split>)> {
        let (n, hours) = (input.n, input.hours);
        // The hours whose loads are needed, gathered hour-major: lazy, only those with PV
        // to share.
        s.cols.clear();
        if self.lazy {
            s.cols
                .extend((h0..h1).filter(|&h| input.pv_wh[h].min(self.park_load[h]) > 0));
        } else {
            s.cols.extend(h0..h1);
        }
        gather(input.load_wh, n, hours, &s.cols, &mut s.load);
        if let Some(z) = input.certificate_wh {
            gather(z, n, hours, &s.cols, &mut s.cert);
        }
        let (ug_loc, ug_res) = (input.location_ug_per_wh, input.residual_ug_per_wh);
        let mut out = Vec::with_capacity(h1 - h0);
        let mut splits = Vec::with_capacity((h1 - h0) * self.contracts);
        let mut col = 0;
        for h in h0..h1 {
            let pv_h = input.pv_wh[h];
            let park_load = self.park_load[h];
            let gathered = s.cols.get(col) == Some(&h);
            let j = col;
            col += usize::from(gathered);
            let load = if gathered {
                &s.load[j * n..(j + 1) * n]
            } else {
                &[]
            };
            let mut green_h = 0;
            if self.lazy {
                // The splits conserve, so the PV used and the green energy are known
                // without the shares.
                let used = pv_h.min(park_load);
                let pv = if gathered {
                    Split::new(used, load, park_load, &mut s.split)
                } else {
                    Split::NONE
                };
                for (c, holder) in self.holders.iter().enumerate().take(self.contracts) {
                    let g = input.contract_wh[c * hours + h];
                    splits.push(Split::new(g, &holder.parts, holder.sum, &mut s.split));
                    if holder.sum > 0 {
                        green_h += g;
                    }
                }
                let draw_h = park_load - used;
                let loss = Self::loss(input, h, draw_h)?;
                let (loss_loc, loss_mkt) = (grams(loss, ug_loc), grams(loss, ug_res));
                out.push(Hour {
                    pv,
                    served: n,
                    partial: 0,
                    export: pv_h - used,
                    green: green_h,
                    excess: 0,
                    loss,
                    loss_location: loss_loc,
                    loss_market: loss_mkt,
                    gross_location: Split::NONE,
                    gross_market: Split::NONE,
                    landlord_location: loss_loc,
                    landlord_market: loss_mkt,
                });
                continue;
            }
            // Pro rata and contract share overwrite every slot.
            if matches!(input.pv_sharing, PvSharing::Priority(_)) {
                s.pv.clear();
            }
            s.pv.resize(n, 0);
            let (mut pv_split, mut served, mut partial) = (Split::NONE, n, 0);
            match input.pv_sharing {
                PvSharing::ProRata => {
                    pv_split = Split::new(pv_h.min(park_load), load, park_load, &mut s.split);
                    pv_split.fill(&s.split, &mut s.pv);
                }
                PvSharing::ContractShare(parts) => {
                    pv_split = Split::new(pv_h, parts, self.pv_parts_sum, &mut s.split);
                    pv_split.fill(&s.split, &mut s.pv);
                    for (p, &l) in s.pv.iter_mut().zip(load) {
                        *p = (*p).min(l);
                    }
                }
                PvSharing::Priority(order) => {
                    let mut left = pv_h;
                    for (k, &i) in order.iter().enumerate() {
                        if load[i] > left {
                            s.pv[i] = left;
                            (served, partial) = (k, left);
                            break;
                        }
                        s.pv[i] = load[i];
                        left -= load[i];
                    }
                }
            }
            let pv_used: i64 = s.pv.iter().sum();
            // Green energy: certificates plus each contract's split (conserving).
            green_h += input
                .certificate_wh
                .map_or(0, |_| s.cert[j * n..(j + 1) * n].iter().sum());
            for (c, holder) in self.holders.iter().enumerate().take(self.contracts) {
                let g = input.contract_wh[c * hours + h];
                splits.push(Split::new(g, &holder.parts, holder.sum, &mut s.split));
                if holder.sum > 0 {
                    green_h += g;
                }
            }
            s.draw.clear();
            s.draw.extend(load.iter().zip(&s.pv).map(|(&l, &p)| l - p));
            let draw_h = park_load - pv_used;
            let loss = Self::loss(input, h, draw_h)?;
            let (loss_loc, loss_mkt) = (grams(loss, ug_loc), grams(loss, ug_res));
            let spread = self.gross_up && draw_h > 0;
            let (gross_location, gross_market) = if spread {
                (
                    Split::new(loss_loc, &s.draw, draw_h, &mut s.split),
                    Split::new(loss_mkt, &s.draw, draw_h, &mut s.split),
                )
            } else {
                (Split::NONE, Split::NONE)
            };
            out.push(Hour {
                pv: pv_split,
                served,
                partial,
                export: pv_h - pv_used,
                green: green_h,
                excess: 0,
                loss,
                loss_location: loss_loc,
                loss_market: loss_mkt,
                gross_location,
                gross_market,
                landlord_location: if spread { 0 } else { loss_loc },
                landlord_market: if spread { 0 } else { loss_mkt },
            });
        }
        Ok((out, splits))
    }

    /// The losses of hour `h`: the gate meter less the tenants' grid draw (0 unmetered).
    pub(super) fn loss(input: &Scope2Input<'_>, h: usize, draw_h: i64) -> CoreResult<i64> {
        match input.gate_import_wh {
            None => Ok(0),
            Some(gate) if gate[h] >= draw_h => Ok(gate[h] - draw_h),
            Some(gate) => Err(CoreError::invalid(
                "gate_import_wh",
                Some(h),
                format!(
                    "the gate meter reads {} Wh, less than the tenants' grid draw {draw_h} Wh",
                    gate[h]
                ),
            )),
        }
    }
}

/// What phase two reads.
pub(super) struct Rows<'a> {
    pub(super) input: &'a Scope2Input<'a>,
    pub(super) contracts: usize,
    pub(super) hour: &'a [Hour],
    pub(super) contract_split: &'a [Split],
    /// The PV split and each contract's split, column-wise for the vectorised loop.
    pub(super) pv_columns: simd::SplitColumns,
    pub(super) contract_columns: Vec<simd::SplitColumns>,
    pub(super) location: Factor,
    pub(super) residual: Factor,
    /// Whether the AVX-512 loops may run.
    pub(super) wide: bool,
}

/// One tenant's rows of the outputs: location, market, then (if wanted) PV, matched and
/// the loss shares.
pub(super) struct RowOut<'a, T> {
    pub(super) arrays: [Option<&'a mut [T]>; 6],
}

impl<T> Default for RowOut<'_, T> {
    fn default() -> Self {
        Self {
            arrays: [None, None, None, None, None, None],
        }
    }
}

/// The hours `h0..h1` of a phase-two task: the matched energy per hour (summed over its
/// tenants) and a buffer for a tenant's green energy.
pub(super) struct Tile<'a> {
    pub(super) h0: usize,
    pub(super) h1: usize,
    pub(super) matched: &'a mut [i64],
    pub(super) green: &'a mut Vec<i64>,
}

/// Tenants per phase-two task, and hours per tile.
pub(super) const TENANT_CHUNK: usize = 16;
pub(super) const HOUR_TILE: usize = 1024;

impl Rows<'_> {
    /// Tenant `i`'s outputs for the hours of `tile`, added to its `sums` and to the tile's
    /// matched energy; O((h1 - h0) * (1 + holdings)).
    pub(super) fn tenant<T: Cell>(
        &self,
        i: usize,
        rank: usize,
        holdings: &[(usize, usize, i64)],
        tile: Tile<'_>,
        out: &mut RowOut<'_, T>,
        sums: &mut [i64; SUMS],
    ) {
        let input = self.input;
        let hours = input.hours;
        let Tile {
            h0,
            h1,
            matched: matched_h,
            green: green_row,
        } = tile;
        let load = &input.load_wh[i * hours + h0..i * hours + h1];
        let cert = input
            .certificate_wh
            .map(|z| &z[i * hours + h0..i * hours + h1]);
        let [location, market, pv_out, matched_out, loss_loc_out, loss_mkt_out] = &mut out.arrays;
        let (Some(location), Some(market)) = (location, market) else {
            return; // no hours
        };
        let plain = matches!(input.pv_sharing, PvSharing::ProRata)
            && cert.is_none()
            && pv_out.is_none()
            && matched_out.is_none()
            && loss_loc_out.is_none();
        if plain {
            // Pro rata, no certificates, nothing but the two methods: the common tenant,
            // vectorised, with a loop of its own for those that hold no contract.
            let (location, market) = (&mut location[h0..h1], &mut market[h0..h1]);
            let pv = self.pv_columns.slice(h0, h1);
            let at = i as i64;
            let row = if holdings.is_empty() {
                simd::plain_row::<false, T>(
                    self.wide,
                    at,
                    load,
                    &pv,
                    &[],
                    simd::Factors {
                        location: self.location,
                        residual: self.residual,
                    },
                    simd::PlainOut {
                        location,
                        market,
                        matched: matched_h,
                    },
                )
            } else {
                green_row.clear();
                green_row.resize(h1 - h0, 0);
                for &(c, k, part) in holdings {
                    let split = self.contract_columns[c].slice(h0, h1);
                    simd::add_shares(self.wide, &split, part, k as i64, green_row);
                }
                simd::plain_row::<true, T>(
                    self.wide,
                    at,
                    load,
                    &pv,
                    green_row,
                    simd::Factors {
                        location: self.location,
                        residual: self.residual,
                    },
                    simd::PlainOut {
                        location,
                        market,
                        matched: matched_h,
                    },
                )
            };
            for (s, r) in sums.iter_mut().zip(row) {
                *s += r;
            }
            return;
        }
        sums[0] += load.iter().sum::<i64>();
        for (j, (&l, hour)) in load.iter().zip(&self.hour[h0..h1]).enumerate() {
            let h = h0 + j;
            let pv = match input.pv_sharing {
                PvSharing::ProRata if hour.pv.total == 0 => 0,
                PvSharing::ProRata => hour.pv.share(l, i),
                PvSharing::ContractShare(parts) => hour.pv.share(parts[i], i).min(l),
                PvSharing::Priority(_) => {
                    if rank < hour.served {
                        l
                    } else if rank == hour.served {
                        hour.partial
                    } else {
                        0
                    }
                }
            };
            let mut green = cert.map_or(0, |z| z[j]);
            for &(c, k, part) in holdings {
                green += self.contract_split[h * self.contracts + c].share(part, k);
            }
            let d = l - pv;
            let m = d.min(green);
            let (loc, mkt) = (
                grams_with(d, self.location),
                grams_with(d - m, self.residual),
            );
            location[h] = T::of(loc);
            market[h] = T::of(mkt);
            if let Some(a) = pv_out {
                a[h] = T::of(pv);
            }
            if let Some(a) = matched_out {
                a[h] = T::of(m);
            }
            matched_h[j] += m;
            sums[1] += pv;
            sums[2] += green;
            sums[3] += m;
            sums[4] += loc;
            sums[5] += mkt;
            if let (Some(a), Some(b)) = (&mut *loss_loc_out, &mut *loss_mkt_out) {
                let (x, y) = (
                    hour.gross_location.share(d, i),
                    hour.gross_market.share(d, i),
                );
                a[h] = T::of(x);
                b[h] = T::of(y);
                sums[6] += x;
                sums[7] += y;
            }
        }
    }
}
