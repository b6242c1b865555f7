//! The simulator: a realistic approval system to run duban against without a real one.
//! `population` builds a city's projects and items from the matter catalogue, `city` keeps it
//! changing, and `server` serves it over HTTP in the canonical and a Chinese export format.

pub mod city;
pub mod population;
mod random;
pub mod server;
