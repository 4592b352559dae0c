//! Tamper-evident audit trail: an RFC 6962 (Certificate Transparency) Merkle tree over
//! result rows, with inclusion proofs, and a chain of roots across runs.
//!
//! Hashes are SHA-256 with domain separation so that a leaf can never be passed off as an
//! interior node: `leaf = H(0x00 || row)`, `node = H(0x01 || left || right)`; the root of
//! an empty tree is `H("")`. The tree over `n` leaves splits at the largest power of two
//! below `n` (RFC 6962 section 2.1), which is the same as pairing each level left to
//! right and promoting an odd last node unchanged, as done here. A run's head chains to
//! the previous head of the same park: `head = H(0x02 || previous_head || root)`, so
//! history cannot be rewritten without changing every later head.
//!
//! Complexity: `O(n)` hashes for a root (leaves hashed in parallel), `O(log n)` per proof
//! and verification.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::{CoreError, CoreResult};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

const LEAF: u8 = 0x00;
const NODE: u8 = 0x01;
const CHAIN: u8 = 0x02;

fn finish(h: Sha256) -> Hash {
    h.finalize().into()
}

/// `H(0x00 || row)`.
pub fn leaf_hash(row: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF]);
    h.update(row);
    finish(h)
}

/// `H(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE]);
    h.update(left);
    h.update(right);
    finish(h)
}

/// `H(0x02 || previous || root)`: the head of a run chained to the previous head.
pub fn chain_head(previous: &Hash, root: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([CHAIN]);
    h.update(previous);
    h.update(root);
    finish(h)
}

/// Split rows stored Arrow-style (`offsets` of length `n + 1` into `data`).
pub fn split_rows<'a>(offsets: &[i64], data: &'a [u8]) -> CoreResult<Vec<&'a [u8]>> {
    if offsets.is_empty() {
        return Err(CoreError::invalid("offsets", None, "needs n + 1 entries"));
    }
    let mut rows = Vec::with_capacity(offsets.len() - 1);
    for (i, pair) in offsets.windows(2).enumerate() {
        let (lo, hi) = (pair[0], pair[1]);
        if lo < 0 || hi < lo || hi as u64 > data.len() as u64 {
            return Err(CoreError::invalid(
                "offsets",
                Some(i),
                format!("[{lo}, {hi}) is not a range inside {} bytes", data.len()),
            ));
        }
        rows.push(&data[lo as usize..hi as usize]);
    }
    Ok(rows)
}

/// Leaf hashes of `rows`, in parallel.
pub fn leaf_hashes(rows: &[&[u8]]) -> Vec<Hash> {
    rows.par_iter().map(|r| leaf_hash(r)).collect()
}

fn next_level(level: &[Hash]) -> Vec<Hash> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [l, r] => node_hash(l, r),
            [single] => *single,
            _ => unreachable_pair(),
        })
        .collect()
}

fn unreachable_pair() -> Hash {
    // chunks(2) yields one or two items; kept total without a panic.
    [0; 32]
}

/// The Merkle tree hash (root) of the leaves.
pub fn root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return finish(Sha256::new());
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// The audit path of leaf `index` (RFC 6962 `PATH(m, D[n])`), leaf side first.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> CoreResult<Vec<Hash>> {
    if index >= leaves.len() {
        return Err(CoreError::invalid(
            "index",
            None,
            format!("{index} is outside the {} rows", leaves.len()),
        ));
    }
    let mut path = Vec::new();
    let mut level = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        if let Some(sibling) = level.get(i ^ 1) {
            path.push(*sibling);
        }
        level = next_level(&level);
        i /= 2;
    }
    Ok(path)
}

/// Whether `path` proves that the leaf with hash `leaf` sits at `index` in a tree of
/// `tree_size` leaves with root `root` (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    tree_size: u64,
    path: &[Hash],
    root: &Hash,
) -> bool {
    if index >= tree_size {
        return false;
    }
    let (mut f, mut s) = (index, tree_size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6962 MTH, written from the definition (split at the largest power of two < n).
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => finish(Sha256::new()),
            1 => leaves[0],
            n => {
                let k = 1 << (usize::BITS - (n - 1).leading_zeros() - 1);
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn rows(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| format!("tenant-{i},hour-{},{}", i % 24, i * 37).into_bytes())
            .collect()
    }

    fn leaves_of(rows: &[Vec<u8>]) -> Vec<Hash> {
        leaf_hashes(&rows.iter().map(Vec::as_slice).collect::<Vec<_>>())
    }

    #[test]
    fn known_answers() {
        // SHA-256 of the empty string, and of the single byte 0x00 (an empty leaf).
        assert_eq!(root(&[])[..4], [0xe3, 0xb0, 0xc4, 0x42]);
        assert_eq!(leaf_hash(b"")[..4], [0x6e, 0x34, 0x0b, 0x9c]);
    }

    #[test]
    fn root_matches_the_recursive_definition_and_every_proof_verifies() {
        for n in 1..70 {
            let r = rows(n);
            let leaves = leaves_of(&r);
            let top = root(&leaves);
            assert_eq!(top, mth(&leaves), "n = {n}");
            for i in 0..n {
                let path = inclusion_proof(&leaves, i).unwrap();
                assert!(path.len() <= 7);
                assert!(verify_inclusion(
                    &leaves[i], i as u64, n as u64, &path, &top
                ));
                if n > 1 {
                    let other = (i + 1) % n;
                    assert!(!verify_inclusion(
                        &leaves[i],
                        other as u64,
                        n as u64,
                        &path,
                        &top
                    ));
                    assert!(!verify_inclusion(
                        &leaves[other],
                        i as u64,
                        n as u64,
                        &path,
                        &top
                    ));
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]

        #[test]
        fn tampering_with_a_row_or_proof_fails(n in 1usize..200, pick in any::<usize>(), byte in any::<usize>(), bit in 0u8..8) {
            let r = rows(n);
            let leaves = leaves_of(&r);
            let top = root(&leaves);
            let i = pick % n;
            let path = inclusion_proof(&leaves, i).unwrap();
            let mut row = r[i].clone();
            let b = byte % row.len();
            row[b] ^= 1 << bit;
            prop_assert!(!verify_inclusion(&leaf_hash(&row), i as u64, n as u64, &path, &top));
            if !path.is_empty() {
                let mut bad = path.clone();
                let k = byte % bad.len();
                bad[k][b % 32] ^= 1 << bit;
                prop_assert!(!verify_inclusion(&leaves[i], i as u64, n as u64, &bad, &top));
                prop_assert!(!verify_inclusion(&leaves[i], i as u64, n as u64, &path[..path.len() - 1], &top));
            }
        }
    }

    #[test]
    fn a_leaf_is_never_a_node() {
        let leaves = leaves_of(&rows(2));
        let top = root(&leaves);
        // The concatenation of two child hashes, presented as a row, hashes differently.
        let mut forged = leaves[0].to_vec();
        forged.extend_from_slice(&leaves[1]);
        assert_ne!(leaf_hash(&forged), top);
    }

    #[test]
    fn chain_heads_depend_on_all_history() {
        let genesis = [0_u8; 32];
        let a = root(&leaves_of(&rows(3)));
        let b = root(&leaves_of(&rows(4)));
        let h1 = chain_head(&genesis, &a);
        let h2 = chain_head(&h1, &b);
        assert_ne!(chain_head(&chain_head(&genesis, &b), &b), h2);
        assert_ne!(h1, node_hash(&genesis, &a));
    }

    #[test]
    fn split_rows_checks_offsets() {
        let data = b"abcdef";
        assert_eq!(
            split_rows(&[0, 2, 2, 6], data).unwrap(),
            vec![&b"ab"[..], b"", b"cdef"]
        );
        let e = split_rows(&[0, 3, 2], data).unwrap_err();
        assert!(e.to_string().contains("offsets (row 1)"), "{e}");
        assert!(split_rows(&[0, 7], data).is_err());
        assert!(split_rows(&[], data).is_err());
    }
}
