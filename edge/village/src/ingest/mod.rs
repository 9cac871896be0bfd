//! MQTT ingest decisions: [`catalog`] (known metrics with units and plausible ranges, built-in
//! plus configured) and [`payload`] (a topic and payload → reading rows, or a typed rejection
//! with a reason code that the shell keeps as a dead letter). The MQTT client, writer and
//! broker are `farmco_edge::ingest`.

pub mod catalog;
pub mod payload;
