//! frontier: declarative LLM deployment experiments that put latency, cost and accuracy on one
//! Pareto frontier.
//!
//! Data flow (one module per stage): [`spec`] (the YAML as written) -> [`plan`] (resolved and
//! checked) -> [`exec`] (schedule, flow, [`client`]) -> [`store`] (Parquet) -> [`eval`]
//! (scores) -> [`query`] (SQL + Pareto) -> [`report`] (terminal tables).

pub mod calibrate;
pub mod cli;
pub mod client;
pub mod clock;
pub mod error;
pub mod eval;
pub mod exec;
pub mod plan;
pub mod query;
pub mod report;
pub mod rng;
pub mod sim;
pub mod spec;
pub mod store;
