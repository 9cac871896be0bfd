//! Modem profiles: where modem families differ, in one place.
//!
//! All three share the TS 27.005/27.007 core (`ATE0`, `AT+CMEE`, `AT+CMGF=0`, `AT+CPMS`,
//! `AT+CNMI`, `AT+CLIP`). They differ in DTMF detection (SIM800 `AT+DDET` → `+DTMF:`,
//! Quectel `AT+QTONEDET` → `+QTONEDET:`), text-to-speech (SIM800/SIM7600 `AT+CTTS`, Quectel
//! `AT+QTTS`; none on a generic modem) and what announces the end of speech.
//!
//! Init: echo off, numeric extended errors (`AT+CMEE=1`: codes are standard across vendors,
//! texts are not), PDU mode, the SIM as preferred storage for reading, writing and receiving,
//! new-message indications that store and announce (`AT+CNMI=2,1,0,2,0`: `+CMTI` and
//! `+CDSI`, so nothing is only in flight on the serial line), caller ID on. Optional steps
//! (connected-line reporting, DTMF detection) may fail on some firmware; they are logged and
//! skipped.

use std::fmt;
use std::str::FromStr;

use farmco_modem_codec::at::command::{
    AtCommand, CustomCommand, ErrorReporting, MessageStorage, NewMessageIndications,
};
use serde::{Deserialize, Serialize};

/// A modem family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModemProfile {
    /// Any TS 27.005/27.007 modem: SMS and calls, no DTMF detection or speech.
    Generic,
    /// SIMCom SIM800/SIM900/SIM7600.
    Sim800,
    /// Quectel EC2x/M66/UC20.
    Quectel,
}

/// One init command and whether the modem must accept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitStep {
    /// The command.
    pub command: AtCommand,
    /// When false, an error is logged and init goes on.
    pub required: bool,
}

/// Why text cannot be spoken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpeakError {
    /// The profile has no text-to-speech.
    Unsupported,
    /// The text does not fit one command line.
    TooLong {
        /// Characters accepted at most in this encoding.
        chars_max: usize,
    },
    /// Empty text.
    Empty,
}

impl ModemProfile {
    /// The profile's name as in configuration.
    pub fn name(self) -> &'static str {
        match self {
            ModemProfile::Generic => "generic",
            ModemProfile::Sim800 => "sim800",
            ModemProfile::Quectel => "quectel",
        }
    }

    /// The init sequence, after the modem answers `AT`.
    pub fn init_steps(self) -> Vec<InitStep> {
        let required = |command| InitStep {
            command,
            required: true,
        };
        let optional = |command| InitStep {
            command,
            required: false,
        };
        let mut steps = vec![
            required(AtCommand::Echo(false)),
            required(AtCommand::ErrorReporting(ErrorReporting::Numeric)),
            required(AtCommand::PduMode),
            required(AtCommand::SelectMessageStorage {
                read_delete: MessageStorage::Sim,
                write_send: MessageStorage::Sim,
                receive: MessageStorage::Sim,
            }),
            required(AtCommand::NewMessageIndications(
                NewMessageIndications::STORE_AND_NOTIFY,
            )),
            required(AtCommand::CallerIdPresentation(true)),
        ];
        if let Ok(colp) = CustomCommand::new("AT+COLP=1") {
            steps.push(optional(AtCommand::Custom(colp)));
        }
        match self {
            ModemProfile::Generic => {}
            ModemProfile::Sim800 => steps.push(optional(AtCommand::Sim800DtmfDetection(true))),
            ModemProfile::Quectel => steps.push(optional(AtCommand::QuectelToneDetection(true))),
        }
        steps
    }

    /// The command that restarts the modem (`AT+CFUN=1,1`, TS 27.007 §8.2).
    pub fn reset_command(self) -> Option<AtCommand> {
        CustomCommand::new("AT+CFUN=1,1")
            .ok()
            .map(AtCommand::Custom)
    }

    /// The command that speaks `text`: ASCII as is (mode 2), anything else as UCS-2 hex
    /// (mode 1), which is how SIM800 and Quectel firmware take non-Latin text.
    pub fn speak_command(self, text: &str) -> Result<AtCommand, SpeakError> {
        let prefix = match self {
            ModemProfile::Generic => return Err(SpeakError::Unsupported),
            ModemProfile::Sim800 => "AT+CTTS",
            ModemProfile::Quectel => "AT+QTTS",
        };
        if text.trim().is_empty() {
            return Err(SpeakError::Empty);
        }
        let plain = text
            .bytes()
            .all(|byte| (0x20..=0x7E).contains(&byte) && byte != b'"');
        let (mode, body, unit_octets) = if plain {
            (2, text.to_owned(), 1)
        } else {
            let hex: String = text
                .encode_utf16()
                .map(|unit| format!("{unit:04X}"))
                .collect();
            (1, hex, 4)
        };
        let line = format!("{prefix}={mode},\"{body}\"");
        let overhead = prefix.len() + 5;
        CustomCommand::new(&line)
            .map(AtCommand::Custom)
            .map_err(|_| SpeakError::TooLong {
                chars_max: farmco_modem_codec::at::command::COMMAND_LINE_OCTETS_MAX
                    .saturating_sub(overhead)
                    / unit_octets,
            })
    }

    /// The URC prefix that says speech has finished.
    pub fn speech_finished_prefix(self) -> Option<&'static str> {
        match self {
            ModemProfile::Generic => None,
            ModemProfile::Sim800 => Some("+CTTS:"),
            ModemProfile::Quectel => Some("+QTTS:"),
        }
    }
}

impl fmt::Display for ModemProfile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

impl FromStr for ModemProfile {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "generic" => Ok(ModemProfile::Generic),
            "sim800" | "simcom" | "sim7600" => Ok(ModemProfile::Sim800),
            "quectel" | "ec25" | "ec21" | "m66" => Ok(ModemProfile::Quectel),
            other => Err(format!(
                "unknown modem profile {other:?} (generic, sim800, quectel)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_and_speech_commands() {
        let lines: Vec<String> = ModemProfile::Sim800
            .init_steps()
            .iter()
            .map(|step| step.command.to_line())
            .collect();
        assert_eq!(
            lines,
            [
                "ATE0",
                "AT+CMEE=1",
                "AT+CMGF=0",
                "AT+CPMS=\"SM\",\"SM\",\"SM\"",
                "AT+CNMI=2,1,0,2,0",
                "AT+CLIP=1",
                "AT+COLP=1",
                "AT+DDET=1"
            ]
        );
        let speak = |profile: ModemProfile, text: &str| {
            profile.speak_command(text).map(|command| command.to_line())
        };
        assert_eq!(
            speak(ModemProfile::Sim800, "Namaste"),
            Ok("AT+CTTS=2,\"Namaste\"".to_owned())
        );
        assert_eq!(
            speak(ModemProfile::Quectel, "नमस्ते"),
            Ok("AT+QTTS=1,\"0928092E0938094D09240947\"".to_owned())
        );
        assert_eq!(
            speak(ModemProfile::Generic, "hi"),
            Err(SpeakError::Unsupported)
        );
        assert!(matches!(
            speak(ModemProfile::Sim800, &"क".repeat(200)),
            Err(SpeakError::TooLong { .. })
        ));
        assert_eq!("SIM800".parse(), Ok(ModemProfile::Sim800));
    }
}
