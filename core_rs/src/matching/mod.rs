//! Exact assignment: dense (LAPJV) and sparse maximum-weight matching with an outside
//! option, each returning the dual variables that certify optimality; and stable
//! matching (deferred acceptance with capacities).

mod auction;
pub mod components;
mod cost;
pub mod dense;
mod dense_kernels;
mod dense_lap;
mod graph;
mod repair;
pub mod sparse;
pub mod stable;

pub use dense::{solve_dense, solve_dense_signed, Cost, DenseSolution};
pub use sparse::{solve_sparse, SparseOptions, SparseProblem, SparseSolution, Start};
