//! The `carbon` harness: pro-rata, scope 2, Shapley and the audit log on fuzzed meters.

use _core::carbon::audit;
use _core::carbon::scope2::{self, LossPolicy, PvSharing, Scope2Input};
use _core::carbon::{allocate_pro_rata, shapley_allocation, ShapleyOptions};
use arbitrary::{Arbitrary, Result, Unstructured};

use super::{init, reals, size, vec_of};

fn carbon_case(u: &mut Unstructured<'_>) -> Result<()> {
    match u8::arbitrary(u)? % 5 {
        0 => {
            let n = size(u, 8)?;
            let hours = size(u, 8)?.min(512);
            let total: Vec<i64> = vec_of(hours, || i64::arbitrary(u))?;
            let cells = n.saturating_mul(hours).min(4096);
            let use_ = reals(u, cells)?;
            if let Ok(r) = allocate_pro_rata(&total, &use_, n) {
                for (h, &t) in total.iter().enumerate() {
                    let col: i64 = (0..n).map(|i| r.alloc_g[i * hours + h]).sum();
                    assert_eq!(col + r.unallocated_g[h], t, "hour {h} not conserved");
                }
            }
        }
        1 => {
            let n = size(u, 8)?;
            let hours = size(u, 6)?;
            let cells = n.saturating_mul(hours).min(4096);
            let use_ = reals(u, cells)?;
            let k = size(u, 5)?.min(64);
            let xs = reals(u, k)?;
            let ys = reals(u, k)?;
            let options = ShapleyOptions {
                exact: Option::<bool>::arbitrary(u)?,
                samples: if bool::arbitrary(u)? {
                    Some(size(u, 64)?)
                } else {
                    None
                },
                seed: u64::arbitrary(u)?,
            };
            if let Ok(r) = shapley_allocation(&use_, n, hours, &xs, &ys, options) {
                let sum: i64 = r.co2e_g.iter().sum();
                assert_eq!(
                    sum + r.unallocated_g,
                    r.total_g,
                    "Shapley grams not conserved"
                );
            }
        }
        2 => {
            let rows = size(u, 16)?.min(1024);
            let mut offsets = vec![0_i64];
            let mut data = Vec::new();
            for _ in 0..rows {
                data.extend(Vec::<u8>::arbitrary(u)?.into_iter().take(8));
                offsets.push(data.len() as i64);
            }
            if bool::arbitrary(u)? {
                let k = offsets.len() - 1;
                offsets[usize::from(u8::arbitrary(u)?) % (k + 1)] = i64::arbitrary(u)?;
            }
            let index = size(u, 32)?;
            if let Ok(split) = audit::split_rows(&offsets, &data) {
                let leaves = audit::leaf_hashes(&split);
                let root = audit::root(&leaves);
                if let Ok(path) = audit::inclusion_proof(&leaves, index) {
                    let leaf = leaves[index];
                    assert!(
                        audit::verify_inclusion(
                            &leaf,
                            index as u64,
                            leaves.len() as u64,
                            &path,
                            &root
                        ),
                        "a genuine proof does not verify"
                    );
                }
            }
            let path: Vec<[u8; 32]> = vec_of(size(u, 8)?.min(64), || <[u8; 32]>::arbitrary(u))?;
            let _ = audit::verify_inclusion(
                &<[u8; 32]>::arbitrary(u)?,
                u64::arbitrary(u)?,
                u64::arbitrary(u)?,
                &path,
                &<[u8; 32]>::arbitrary(u)?,
            );
        }
        _ => {
            let n = size(u, 6)?;
            let hours = size(u, 6)?;
            let cells = n.saturating_mul(hours).min(4096);
            let small = |u: &mut Unstructured<'_>| -> Result<i64> {
                let v = i64::arbitrary(u)?;
                Ok(if v & 1 == 0 { v } else { (v >> 1) % 100_000 })
            };
            let load: Vec<i64> = vec_of(cells, || small(u))?;
            let pv: Vec<i64> = vec_of(hours.min(4096), || small(u))?;
            let nc = size(u, 3)?.min(8);
            let contract_wh: Vec<i64> = vec_of(nc.saturating_mul(hours).min(4096), || small(u))?;
            let contract_share: Vec<i64> = vec_of(nc.saturating_mul(n).min(4096), || small(u))?;
            let parts: Vec<i64> = vec_of(n.min(4096), || small(u))?;
            let order: Vec<usize> = vec_of(n.min(4096), || size(u, (n as u64).saturating_add(1)))?;
            let cert: Vec<i64> = vec_of(cells, || small(u))?;
            let gate: Vec<i64> = vec_of(hours.min(4096), || small(u))?;
            let input = Scope2Input {
                n,
                hours,
                load_wh: &load,
                pv_wh: &pv,
                pv_sharing: match u8::arbitrary(u)? % 3 {
                    0 => PvSharing::ProRata,
                    1 => PvSharing::ContractShare(&parts),
                    _ => PvSharing::Priority(&order),
                },
                contract_wh: &contract_wh,
                contract_share: &contract_share,
                certificate_wh: bool::arbitrary(u)?.then_some(cert.as_slice()),
                gate_import_wh: bool::arbitrary(u)?.then_some(gate.as_slice()),
                loss_policy: if bool::arbitrary(u)? {
                    LossPolicy::Landlord
                } else {
                    LossPolicy::GrossUp
                },
                location_ug_per_wh: small(u)?,
                residual_ug_per_wh: small(u)?,
                detail: bool::arbitrary(u)?,
            };
            let _ = scope2::scope2_compact(&input);
        }
    }
    Ok(())
}

/// Carbon entry points: pro-rata, Shapley (sizes, curves, sample counts), audit proofs
/// (offsets, indices, tree sizes), Scope 2 (declared tenants and hours).
pub fn carbon(data: &[u8]) {
    init();
    let _ = carbon_case(&mut Unstructured::new(data));
}
