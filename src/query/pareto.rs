//! Pareto frontier marking.
