//! Borrowing numpy arrays as slices, with the argument named when one is not contiguous.

use numpy::PyReadonlyArray1;

use crate::error::{CoreError, CoreResult};

/// The array's elements in place, or INVALID_ARGUMENT naming `field`.
pub(super) fn slice<'a, T: numpy::Element>(
    a: &'a PyReadonlyArray1<'_, T>,
    field: &str,
) -> CoreResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| CoreError::invalid(field, None, "must be a C-contiguous array"))
}
