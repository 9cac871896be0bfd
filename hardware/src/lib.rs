//! The GSM modem of FarmCo-Pilot Edge: a driver for a real modem on a serial port, and a
//! simulator that plays one on a pseudo-terminal.
//!
//! Farmers with basic phones text (SMS) and call (voice/IVR) the village node through a USB
//! GSM modem (SIMCom SIM800/SIM7600, Quectel EC2x/M66). The pure codecs (AT commands and
//! responses, SMS PDUs) live in [`farmco_modem_codec`], re-exported as [`codec`]; this crate
//! is the part that does I/O:
//!
//! - [`driver`]: [`driver::Modem::spawn`] starts a tokio task that owns the serial port and
//!   returns a [`driver::ModemHandle`] (send SMS, dial, answer, hang up, speak, health,
//!   shutdown) and a bounded stream of [`driver::ModemEvent`]s (received SMS carrying an
//!   [`driver::Ack`], delivery reports, calls, DTMF, health, modem lost/ready).
//! - [`sim`]: [`sim::Simulator::start`] opens a pseudo-terminal that speaks a SIM800-class AT
//!   dialect, with realistic timing, fault injection and an HTTP side door to play the
//!   farmer. The `farmco-modem-sim` binary wraps it.
//!
//! Invariants: the driver never deletes a message from the SIM before the edge acknowledged
//! it, and reports the outcome of every send it accepted (success, or an error). Every queue
//! and buffer has a named bound. Dependencies: the driver and the simulator never depend on
//! each other; both depend on the codec.

pub use farmco_modem_codec as codec;

pub mod driver;
pub mod sim;
