//! The simulator: a realistic, deterministic approval system to run duban against without a
//! real one. `population` builds a city's projects and items from the matter catalogue.

pub mod population;
mod random;
