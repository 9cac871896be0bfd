//! Local alert decisions: [`rules`] (a rule's spec, validated against the metric catalogue)
//! and [`engine`] (`Engine::step(Input) -> Vec<Decision>`: thresholds with hysteresis and a
//! minimum duration, crop and growth stage, silent sensors, low battery; fake-clock tested).
//! The task that feeds it readings and stores its decisions is `farmco_edge::alerts`.

pub mod engine;
pub mod rules;
