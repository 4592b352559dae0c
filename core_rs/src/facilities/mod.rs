//! Shared-facility planning kernels the Python MILP layer calls for its hot loops.
//!
//! - [`single_source`]: an iterated tabu search for single-source capacitated facility
//!   location plans (the primal side of the Lagrangian method in
//!   `zone_opt.optimise.facilities.sscflp`).

pub mod single_source;
