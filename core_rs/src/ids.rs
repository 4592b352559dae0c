//! Enterprise identifiers: the unified social credit code (GB 32100-2015).
//!
//! A code has 18 characters from the 31-character set `0-9 A-H J-N P-R T U W-Y`
//! (no I, O, Z, S, V). The last is a check character: with the values `v_i` of the first
//! 17 characters and weights `w_i = 3^i mod 31`, the check value is
//! `31 - (sum(v_i * w_i) mod 31)`, where 31 stands for 0.
//!
//! Functions here work on Arrow-layout string columns (offsets plus UTF-8 bytes) so that a
//! million codes are checked without a Python object per row.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use rayon::prelude::*;

use crate::budget::{try_with_capacity, Need};
use crate::error::{CoreError, CoreResult};

/// The 31 characters of GB 32100-2015, in value order.
pub const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of the first 17 characters.
pub const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
pub const USCC_LEN: usize = 18;

/// Why a code is not a valid unified social credit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum UsccProblem {
    Valid = 0,
    Length = 1,
    Charset = 2,
    CheckDigit = 3,
}

impl UsccProblem {
    pub fn reason(self) -> &'static str {
        match self {
            UsccProblem::Valid => "valid",
            UsccProblem::Length => "not 18 characters",
            UsccProblem::Charset => {
                "character outside the GB 32100-2015 set (0-9, A-Y without I O S V Z)"
            }
            UsccProblem::CheckDigit => "check character does not match (GB 32100-2015)",
        }
    }
}

const fn value_table() -> [u8; 256] {
    let mut table = [u8::MAX; 256];
    let mut i = 0;
    while i < USCC_CHARSET.len() {
        table[USCC_CHARSET[i] as usize] = i as u8;
        i += 1;
    }
    table
}

static VALUES: [u8; 256] = value_table();

/// The check character for the first 17 characters of a code, if they are all in the set.
pub fn uscc_check_char(body: &[u8]) -> Option<u8> {
    if body.len() != USCC_LEN - 1 {
        return None;
    }
    let mut sum = 0_u32;
    for (&c, &w) in body.iter().zip(USCC_WEIGHTS.iter()) {
        let v = VALUES[c as usize];
        if v == u8::MAX {
            return None;
        }
        sum += u32::from(v) * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_CHARSET[check as usize])
}

/// Check one code, exactly as given (no trimming or case folding).
pub fn check_uscc(code: &[u8]) -> UsccProblem {
    if code.len() != USCC_LEN {
        return UsccProblem::Length;
    }
    if code.iter().any(|&c| VALUES[c as usize] == u8::MAX) {
        return UsccProblem::Charset;
    }
    match uscc_check_char(&code[..USCC_LEN - 1]) {
        Some(c) if c == code[USCC_LEN - 1] => UsccProblem::Valid,
        _ => UsccProblem::CheckDigit,
    }
}

/// Check every value of an Arrow string column given as `offsets` (length n + 1) and `data`.
///
/// Returns one [`UsccProblem`] code per row (0 = valid). Rows run in parallel, except in a
/// column of at most [`USCC_SEQUENTIAL_ROWS`].
pub fn check_uscc_column(offsets: &[i64], data: &[u8]) -> CoreResult<Vec<u8>> {
    if offsets.is_empty() {
        return Err(CoreError::invalid(
            "offsets",
            None,
            "must hold n + 1 entries",
        ));
    }
    let n = offsets.len() - 1;
    // Validate the layout once so the parallel loop cannot index out of bounds.
    for i in 0..n {
        let (a, b) = (offsets[i], offsets[i + 1]);
        if a < 0 || b < a || b as usize > data.len() {
            return Err(CoreError::invalid(
                "offsets",
                Some(i),
                "not a valid Arrow offset range",
            ));
        }
    }
    let row = |i: usize| check_uscc(&data[offsets[i] as usize..offsets[i + 1] as usize]) as u8;
    if n <= USCC_SEQUENTIAL_ROWS {
        return Ok((0..n).map(row).collect());
    }
    Ok((0..n).into_par_iter().with_min_len(4096).map(row).collect())
}

/// Columns up to this many rows are checked on the calling thread (a few microseconds of
/// work, less than handing it to the pool).
pub const USCC_SEQUENTIAL_ROWS: usize = 16_384;

/// Dense codes of an Arrow string column given as `offsets` (n + 1 entries, `i32` for
/// `string`, `i64` for `large_string`) and `data`: equal strings get equal codes, numbered
/// 0, 1, ... in order of first appearance. Returns the code of each row and, per code, the
/// row where it first appears (so the caller takes the distinct values from the column).
///
/// What `pyarrow.compute.dictionary_encode` gives, without the Arrow dictionary: a row
/// equal to the one before it (ids sorted or grouped, as exported meter readings are)
/// costs one comparison; any other row one lookup in a `HashMap` keyed by the standard
/// library's randomly seeded SipHash, so crafted ids cannot force collisions. One
/// sequential pass: O(bytes).
///
/// The column is validated in full on the way, as Arrow's full validation of a string
/// array does: every offset range within `data` and non-decreasing (every row), every
/// value UTF-8 text (checked once per distinct value: equal bytes are equally valid). So
/// a column that passed only Arrow's structural checks can be encoded without a second
/// pass over its bytes.
pub fn dictionary_codes<O>(offsets: &[O], data: &[u8]) -> CoreResult<(Vec<i64>, Vec<i64>)>
where
    O: Copy + Into<i64>,
{
    let Some(n) = offsets.len().checked_sub(1) else {
        return Err(CoreError::invalid(
            "offsets",
            None,
            "must hold n + 1 entries",
        ));
    };
    // The codes, and at worst one map entry (slice, code, control byte) per row.
    Need::new("offsets").items(n, 8 + 8 + 16 + 8 + 1).check()?;
    let mut index: HashMap<&[u8], i64> = HashMap::new();
    let mut codes = try_with_capacity("offsets", n)?;
    let mut firsts: Vec<i64> = Vec::new();
    let mut previous: Option<(&[u8], i64)> = None;
    for (row, pair) in offsets.windows(2).enumerate() {
        let (a, b) = (pair[0].into(), pair[1].into());
        let value = usize::try_from(a)
            .ok()
            .zip(usize::try_from(b).ok())
            .and_then(|(a, b)| data.get(a..b))
            .ok_or_else(|| {
                CoreError::invalid("offsets", Some(row), "not a valid Arrow offset range")
            })?;
        let code = match previous {
            Some((last, code)) if last == value => code,
            _ => {
                let code = match index.entry(value) {
                    Entry::Occupied(seen) => *seen.get(),
                    Entry::Vacant(slot) => {
                        if std::str::from_utf8(value).is_err() {
                            return Err(CoreError::invalid("data", Some(row), "not UTF-8 text"));
                        }
                        firsts.push(row as i64);
                        *slot.insert(firsts.len() as i64 - 1)
                    }
                };
                previous = Some((value, code));
                code
            }
        };
        codes.push(code);
    }
    Ok((codes, firsts))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A code with a correct check character, built from a 17-character body.
    fn complete(body: &str) -> String {
        let c = uscc_check_char(body.as_bytes()).unwrap();
        format!("{body}{}", c as char)
    }

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1_u32;
        for &expected in &USCC_WEIGHTS {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn known_public_code_verifies() {
        // Published on the business licence of a listed company (Tencent Technology
        // (Shenzhen) Co., Ltd.): 9144030071526726XG.
        assert_eq!(check_uscc(b"9144030071526726XG"), UsccProblem::Valid);
        assert_eq!(check_uscc(b"9144030071526726XH"), UsccProblem::CheckDigit);
    }

    #[test]
    fn problems_are_classified() {
        let good = complete("91440300MA5FXXXX1");
        assert_eq!(check_uscc(good.as_bytes()), UsccProblem::Valid);
        assert_eq!(check_uscc(b"123"), UsccProblem::Length);
        assert_eq!(check_uscc(b"91440300MA5FXXXXIO"), UsccProblem::Charset);
        assert_eq!(check_uscc(b"9144030071526726xg"), UsccProblem::Charset);
    }

    #[test]
    fn column_check_matches_row_check() {
        let codes = ["9144030071526726XG", "bad", "9144030071526726XH", ""];
        let mut offsets = vec![0_i64];
        let mut data = Vec::new();
        for c in codes {
            data.extend_from_slice(c.as_bytes());
            offsets.push(data.len() as i64);
        }
        let got = check_uscc_column(&offsets, &data).unwrap();
        assert_eq!(got, vec![0, 1, 3, 1]);
        assert!(check_uscc_column(&[0, 5], b"abc").is_err());
    }

    #[test]
    fn dictionary_codes_number_values_by_first_appearance() {
        let values = ["b", "b", "a", "", "b", "a", "c", "c"];
        let mut offsets = vec![0_i32];
        let mut data = Vec::new();
        for v in values {
            data.extend_from_slice(v.as_bytes());
            offsets.push(data.len() as i32);
        }
        let (codes, firsts) = dictionary_codes(&offsets, &data).unwrap();
        assert_eq!(codes, vec![0, 0, 1, 2, 0, 1, 3, 3]);
        assert_eq!(firsts, vec![0, 2, 3, 6]);
        let wide: Vec<i64> = offsets.iter().map(|&o| i64::from(o)).collect();
        assert_eq!(dictionary_codes(&wide, &data).unwrap(), (codes, firsts));
    }

    #[test]
    fn dictionary_codes_refuse_a_bad_layout() {
        assert!(dictionary_codes::<i64>(&[], b"").is_err());
        assert!(dictionary_codes(&[0_i64, 5], b"abc").is_err());
        assert!(dictionary_codes(&[0_i32, 2, 1], b"abc").is_err());
        assert!(dictionary_codes(&[-1_i32, 2], b"abc").is_err());
        let (codes, firsts) = dictionary_codes(&[0_i32], b"").unwrap();
        assert!(codes.is_empty() && firsts.is_empty());
    }

    /// Bytes that are not UTF-8 are refused at the row where they first appear, whether
    /// the value repeats or not; a multi-byte character cut by an offset is refused too.
    #[test]
    fn dictionary_codes_refuse_text_that_is_not_utf8() {
        let data = b"ab\xffab\xff";
        let e = dictionary_codes(&[0_i32, 2, 3, 5, 6], data).unwrap_err();
        assert!(
            e.to_string().contains("data (row 1): not UTF-8 text"),
            "{e}"
        );
        let cut = "\u{4e2d}".as_bytes(); // 3 bytes
        assert!(dictionary_codes(&[0_i32, 1, 3], cut).is_err());
        assert!(dictionary_codes(&[0_i32, 3, 3], cut).is_ok());
    }
}
