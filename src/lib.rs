//! duban (督办): supervision of construction-project approvals against working-day
//! deadlines.
//!
//! Layout:
//! - `config`: the TOML config, validated, with precise errors; secrets from the environment.
//! - `calendar`: working days under the yearly holiday arrangement (pure).
//! - `item`: the canonical item record and its validation.
//! - `grading`: clock, three-colour grade, next change, project government time (pure).
//! - `catalogue`: the approval-matter catalogue.
//! - `simulator`: a deterministic city of projects and items for demos and benchmarks.
//! - `commands`: the CLI subcommands.

pub mod calendar;
pub mod catalogue;
pub mod commands;
pub mod config;
pub mod grading;
pub mod item;
pub mod simulator;
